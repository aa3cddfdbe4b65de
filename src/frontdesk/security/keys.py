"""API keys: publishable ``pk_…`` (browsers) and secret ``sk_…`` (servers), stored as hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Invalid, NotFound, Unauthorized
from frontdesk.realtime.invalidation import announce
from frontdesk.security.audit import record
from frontdesk.security.models import ApiKey
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository
from frontdesk.store.scope import system_scope

if TYPE_CHECKING:
    from frontdesk.store.db import Database

KeyKind = Literal["publishable", "secret"]


class KeyKindChoice(StrEnum):
    publishable = "publishable"
    secret = "secret"  # noqa: S105 (a kind, not a secret)

    @property
    def kind(self) -> KeyKind:
        return "publishable" if self is KeyKindChoice.publishable else "secret"


PREFIXES: dict[str, str] = {"publishable": "pk_", "secret": "sk_"}
SCOPES = frozenset({"conversations:read", "conversations:write", "webhooks:manage", "admin"})
DEFAULT_SCOPES: dict[str, list[str]] = {
    "publishable": ["visitor"],
    "secret": ["conversations:read", "conversations:write"],
}


KEY_TOPIC = "key"


class InvalidKey(Unauthorized):
    title = "Invalid API key"
    type_slug = "invalid-key"


class KeyNotFound(NotFound):
    title = "API key not found"
    type_slug = "key-not-found"


def hash_key(key: str) -> str:
    """SHA-256 of the key: keys carry 192 random bits, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ApiKey
    key: str


class ApiKeyRepository(TenantRepository[ApiKey]):
    model = ApiKey


class UnknownScope(Invalid):
    title = "Unknown scope"
    type_slug = "unknown-scope"


async def create_key(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    kind: KeyKind,
    name: str,
    actor: str,
    scopes: Sequence[str] | None = None,
) -> IssuedKey:
    """Issue a key; its plain value is returned once (publishable keys are public and kept).

    Publishable keys only ever carry the visitor scope; secret keys the scopes asked for."""
    if scopes is not None and kind == "secret":
        unknown = set(scopes) - SCOPES
        if unknown:
            raise UnknownScope(f"unknown scope(s): {', '.join(sorted(unknown))}")
    key = PREFIXES[kind] + secrets.token_urlsafe(24)
    row = ApiKeyRepository(session, tenant_id).add(
        ApiKey(
            kind=kind,
            name=name,
            prefix=key[:10],
            public_key=key if kind == "publishable" else None,
            key_hash=hash_key(key),
            scopes=sorted(set(scopes)) if scopes and kind == "secret" else DEFAULT_SCOPES[kind],
        )
    )
    await session.flush()
    record(session, tenant_id, actor=actor, action="key.created", target=str(row.id))
    return IssuedKey(row=row, key=key)


async def list_keys(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    repo = ApiKeyRepository(session, tenant_id)
    result = await session.execute(repo.select().order_by(ApiKey.created_at))
    return result.scalars().all()


async def revoke_key(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, *, actor: str
) -> ApiKey:
    row = await ApiKeyRepository(session, tenant_id).get(key_id)
    if row is None:
        raise KeyNotFound(f"no key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, tenant_id, actor=actor, action="key.revoked", target=str(row.id))
        announce(session, KEY_TOPIC, row.key_hash)
    return row


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a request needs to know about the key it came with."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    family_id: uuid.UUID
    kind: str
    scopes: frozenset[str]
    expires_at: datetime | None


async def rotate_key(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    overlap: timedelta,
    actor: str,
) -> IssuedKey:
    """Issue the key's successor (same kind, scopes and family, so quotas carry on); the old
    key keeps working for ``overlap`` and then stops."""
    old = await ApiKeyRepository(session, tenant_id).get(key_id)
    if old is None or old.revoked_at is not None:
        raise KeyNotFound(f"no live key {key_id}")
    issued = await create_key(session, tenant_id, kind=old.kind, name=old.name, actor=actor)  # type: ignore[arg-type]
    issued.row.family_id = old.family_id
    issued.row.scopes = list(old.scopes)
    expires = utcnow() + overlap
    if old.expires_at is None or old.expires_at > expires:
        old.expires_at = expires
        announce(session, KEY_TOPIC, old.key_hash)
    record(
        session,
        tenant_id,
        actor=actor,
        action="key.rotated",
        target=str(old.id),
        data={"successor": str(issued.row.id), "overlap_seconds": int(overlap.total_seconds())},
    )
    return issued


class KeyDirectory:
    """Key → ``KeyInfo`` through a short in-memory cache; ``forget`` drops one at once
    (revocation and rotation announce it to every instance)."""

    def __init__(
        self, db: Database | None = None, *, ttl: float = 30.0, size: int = 10_000
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._size = size
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}
        self._used: dict[uuid.UUID, float] = {}

    def forget(self, key_hash: str) -> None:
        if key_hash == "*":
            self._cache.clear()
        else:
            self._cache.pop(key_hash, None)

    async def resolve(self, session: AsyncSession | None, key: str, *, kind: KeyKind) -> KeyInfo:
        """The live key of ``kind`` that ``key`` is, in whichever tenant it belongs to.

        A cache hit touches no database; a miss reads through ``session``, or without one
        through a short session of the directory's own."""
        if not key.startswith(PREFIXES[kind]) or len(key) > 100:
            raise InvalidKey(f"a {kind} key is required")
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            info = hit[1]
        elif session is None:
            async with self._own_session() as own:
                return await self.resolve(own, key, kind=kind)
        else:
            # The one deliberate cross-tenant read: the key says which tenant it belongs to.
            async with system_scope(session):
                row = (
                    await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))
                ).scalar_one_or_none()
            info = None
            if row is not None and row.revoked_at is None:
                info = KeyInfo(
                    id=row.id,
                    tenant_id=row.tenant_id,
                    family_id=row.family_id,
                    kind=row.kind,
                    scopes=frozenset(row.scopes),
                    expires_at=row.expires_at,
                )
            if len(self._cache) >= self._size:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, info)
        if (
            info is None
            or info.kind != kind
            or (info.expires_at is not None and info.expires_at <= utcnow())
        ):
            raise InvalidKey("the key is not valid")
        await self._touch(session, info.id, now)
        return info

    def _own_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        if self._db is None:
            raise RuntimeError("a KeyDirectory without a database needs the caller's session")
        return self._db.session()

    async def _touch(self, session: AsyncSession | None, key_id: uuid.UUID, now: float) -> None:
        # Last use is recorded at most once a minute per key: a write per request would cost more
        # than the request.
        if self._used.get(key_id, 0.0) > now:
            return
        self._used[key_id] = now + 60
        if session is None:
            async with self._own_session() as own:
                await self._touch(own, key_id, 0.0)
            return
        async with system_scope(session):
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
            )


async def publishable_key(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    """The tenant's newest live publishable key, for local tools and the demo page."""
    repo = ApiKeyRepository(session, tenant_id)
    result = await session.execute(
        repo.select()
        .where(ApiKey.kind == "publishable", ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc())
        .limit(1)
    )
    row = result.scalar_one_or_none()
    return row.public_key if row else None
