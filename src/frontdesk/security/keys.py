"""API keys: publishable ``pk_…`` (browsers) and secret ``sk_…`` (servers), stored as hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import NotFound, Unauthorized
from frontdesk.security.audit import record
from frontdesk.security.models import ApiKey
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository

KeyKind = Literal["publishable", "secret"]


class KeyKindChoice(StrEnum):
    publishable = "publishable"
    secret = "secret"  # noqa: S105 (a kind, not a secret)

    @property
    def kind(self) -> KeyKind:
        return "publishable" if self is KeyKindChoice.publishable else "secret"


PREFIXES: dict[str, str] = {"publishable": "pk_", "secret": "sk_"}
DEFAULT_SCOPES: dict[str, list[str]] = {
    "publishable": ["visitor"],
    "secret": ["conversations:read", "conversations:write"],
}


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


async def create_key(
    session: AsyncSession, tenant_id: uuid.UUID, *, kind: KeyKind, name: str, actor: str
) -> IssuedKey:
    """Issue a key; its plain value is returned once (publishable keys are public and kept)."""
    key = PREFIXES[kind] + secrets.token_urlsafe(24)
    row = ApiKeyRepository(session, tenant_id).add(
        ApiKey(
            kind=kind,
            name=name,
            prefix=key[:10],
            public_key=key if kind == "publishable" else None,
            key_hash=hash_key(key),
            scopes=DEFAULT_SCOPES[kind],
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
    return row


async def verify_key(
    session: AsyncSession, tenant_id: uuid.UUID, key: str, *, kind: KeyKind
) -> ApiKey:
    """The live key of ``kind`` that ``key`` is, inside this tenant, or ``InvalidKey``."""
    if not key.startswith(PREFIXES[kind]) or len(key) > 100:
        raise InvalidKey(f"a {kind} key is required")
    repo = ApiKeyRepository(session, tenant_id)
    result = await session.execute(repo.select().where(ApiKey.key_hash == hash_key(key)))
    row = result.scalar_one_or_none()
    now = utcnow()
    if (
        row is None
        or row.kind != kind
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise InvalidKey("the key is not valid for this tenant")
    row.last_used_at = now
    return row


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
