"""A tenant's shared secrets, sealed at rest, rotated with an overlap.

Every secret is a Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes.

* ``api``: the tenant signs its requests to us (``signatures.verify_request``).
* ``webhook``: we sign our webhooks to the tenant (``signatures.sign_request``).
* ``identity``: the tenant's server proves a web chat visitor's user id, either with
  ``hex(HMAC-SHA256(key=secret, msg=user_id))`` or with an HS256 JWT signed with the secret,
  the whole ``whsec_…`` string (UTF-8) being the key in both cases (``identity.verify_identity``).
* ``llm``: the tenant's API key for its language-model provider. Unlike the others it is not
  generated but given by the operator (``store_secret``), and only the newest one is used.
* ``crm``: the tenant's CRM signs the events it sends us (``POST /webhooks/crm/{tenant}``).

A rotation issues a new secret and lets the older ones work until the overlap ends, so the
tenant can switch without a window where requests fail. The plain value is returned once, at
creation; only the sealed value and a short hint are kept. Nothing here commits.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, get_args

from sqlalchemy import Select, or_
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from frontdesk.store.db import Database

from frontdesk.errors import Invalid, NotFound
from frontdesk.realtime.invalidation import announce
from frontdesk.security.audit import record
from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import TenantSecret
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository

SecretPurpose = Literal["api", "webhook", "identity", "llm", "crm"]
PURPOSES: tuple[SecretPurpose, ...] = get_args(SecretPurpose)
GENERATED: tuple[SecretPurpose, ...] = ("api", "webhook", "identity", "crm")
"""The purposes whose secrets we generate; the others are given (``store_secret``)."""
MAX_GIVEN_SECRET = 1000
PREFIX = "whsec_"
HINT_LENGTH = 12
SECRET_TOPIC = "secret"  # noqa: S105 (a topic name)
"""Invalidation topic: a tenant's secrets changed (the key is the tenant id)."""


class SecretNotFound(NotFound):
    title = "Secret not found"
    type_slug = "secret-not-found"


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A new secret: its row and its plain value, which is not shown again."""

    row: TenantSecret
    value: str = field(repr=False)


class TenantSecretRepository(TenantRepository[TenantSecret]):
    model = TenantSecret

    def of_purpose(self, purpose: str | None) -> Select[TenantSecret]:
        """The tenant's secrets (of ``purpose``, when given), newest first."""
        query = self.select()
        if purpose is not None:
            query = query.where(TenantSecret.purpose == purpose)
        return query.order_by(TenantSecret.created_at.desc(), TenantSecret.id.desc())

    def active(self, purpose: str, now: datetime) -> Select[TenantSecret]:
        """The secrets of ``purpose`` still working at ``now``, newest first."""
        return self.of_purpose(purpose).where(
            or_(TenantSecret.expires_at.is_(None), TenantSecret.expires_at > now)
        )


def generate_secret() -> str:
    """A fresh plain secret in the Standard Webhooks format: ``whsec_`` + base64(32 bytes)."""
    return PREFIX + base64.b64encode(os.urandom(32)).decode()


def is_active(row: TenantSecret, now: datetime | None = None) -> bool:
    """Whether ``row`` still works at ``now`` (default: now)."""
    return row.expires_at is None or row.expires_at > (now or utcnow())


def _context(tenant_id: uuid.UUID, purpose: str) -> str:
    return f"{tenant_id}:{purpose}"


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise Invalid(f"a secret's purpose is one of {', '.join(PURPOSES)}")


def _issue(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, purpose: SecretPurpose
) -> IssuedSecret:
    if purpose not in GENERATED:
        raise Invalid(f"{purpose} secrets are given, not generated")
    value = generate_secret()
    row = TenantSecretRepository(session, tenant_id).add(
        TenantSecret(
            purpose=purpose,
            sealed=box.seal(value, context=_context(tenant_id, purpose)),
            hint=value[:HINT_LENGTH],
        )
    )
    return IssuedSecret(row=row, value=value)


async def create_secret(
    session: AsyncSession,
    box: SecretBox,
    tenant_id: uuid.UUID,
    *,
    purpose: SecretPurpose,
    actor: str,
) -> IssuedSecret:
    """Issue a secret for ``purpose`` next to any active ones; its value is returned once."""
    _check_purpose(purpose)
    issued = _issue(session, box, tenant_id, purpose)
    await session.flush()
    announce(session, SECRET_TOPIC, str(tenant_id))
    record(
        session,
        tenant_id,
        actor=actor,
        action="secret.created",
        target=str(issued.row.id),
        data={"purpose": purpose},
    )
    return issued


async def rotate_secret(
    session: AsyncSession,
    box: SecretBox,
    tenant_id: uuid.UUID,
    *,
    purpose: SecretPurpose,
    overlap: timedelta,
    actor: str,
) -> IssuedSecret:
    """Issue a new secret; every older active one of ``purpose`` stops ``overlap`` from now.

    An ``overlap`` of zero retires the older ones at once. An older secret already due to stop
    sooner keeps its earlier end. The new value is returned once.
    """
    _check_purpose(purpose)
    if overlap < timedelta(0):
        raise Invalid("the overlap cannot be negative")
    now = utcnow()
    until = now + overlap
    repo = TenantSecretRepository(session, tenant_id)
    older = (await session.execute(repo.active(purpose, now))).scalars().all()
    for row in older:
        if row.expires_at is None or row.expires_at > until:
            row.expires_at = until
    issued = _issue(session, box, tenant_id, purpose)
    await session.flush()
    announce(session, SECRET_TOPIC, str(tenant_id))
    record(
        session,
        tenant_id,
        actor=actor,
        action="secret.rotated",
        target=str(issued.row.id),
        data={
            "purpose": purpose,
            "overlap_seconds": int(overlap.total_seconds()),
            "expiring": [str(row.id) for row in older],
        },
    )
    return issued


async def store_secret(
    session: AsyncSession,
    box: SecretBox,
    tenant_id: uuid.UUID,
    *,
    purpose: SecretPurpose,
    value: str,
    actor: str,
) -> TenantSecret:
    """Seal a secret the operator gives (an LLM API key); older ones of ``purpose`` stop now.

    Only the last four characters are kept as the hint.
    """
    _check_purpose(purpose)
    if purpose in GENERATED:
        raise Invalid(f"{purpose} secrets are generated: rotate them instead")
    value = value.strip()
    if not 8 <= len(value) <= MAX_GIVEN_SECRET or not value.isprintable() or " " in value:
        raise Invalid(f"a secret is 8 to {MAX_GIVEN_SECRET} printable characters without spaces")
    now = utcnow()
    repo = TenantSecretRepository(session, tenant_id)
    older = (await session.execute(repo.active(purpose, now))).scalars().all()
    for row in older:
        row.expires_at = now
    row = repo.add(
        TenantSecret(
            purpose=purpose,
            sealed=box.seal(value, context=_context(tenant_id, purpose)),
            hint="…" + value[-4:],
        )
    )
    await session.flush()
    record(
        session,
        tenant_id,
        actor=actor,
        action="secret.stored",
        target=str(row.id),
        data={"purpose": purpose, "replaced": [str(old.id) for old in older]},
    )
    return row


async def revoke_secret(
    session: AsyncSession, tenant_id: uuid.UUID, secret_id: uuid.UUID, *, actor: str
) -> TenantSecret:
    """Stop a secret at once (``SecretNotFound`` outside this tenant)."""
    row = await TenantSecretRepository(session, tenant_id).get(secret_id)
    if row is None:
        raise SecretNotFound(f"no secret {secret_id}")
    now = utcnow()
    if is_active(row, now):
        row.expires_at = now
        announce(session, SECRET_TOPIC, str(tenant_id))
        record(
            session,
            tenant_id,
            actor=actor,
            action="secret.revoked",
            target=str(row.id),
            data={"purpose": row.purpose},
        )
    return row


async def active_secrets(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, *, purpose: SecretPurpose
) -> list[str]:
    """The plain values of the tenant's unexpired secrets of ``purpose``, newest first.

    A sealed value that does not open (another instance key, a tampered row) raises ``SealError``.
    """
    _check_purpose(purpose)
    repo = TenantSecretRepository(session, tenant_id)
    rows = (await session.execute(repo.active(purpose, utcnow()))).scalars().all()
    return [box.open(row.sealed, context=_context(tenant_id, purpose)) for row in rows]


async def list_secrets(
    session: AsyncSession, tenant_id: uuid.UUID, *, purpose: SecretPurpose | None = None
) -> Sequence[TenantSecret]:
    """The tenant's secrets (expired ones too), newest first: rows only, never plain values."""
    if purpose is not None:
        _check_purpose(purpose)
    repo = TenantSecretRepository(session, tenant_id)
    return (await session.execute(repo.of_purpose(purpose))).scalars().all()


class SecretCache:
    """A tenant's opened active secrets per purpose, kept in memory: a signed request must not
    cost a database read and an unsealing. An entry lives ``ttl`` seconds at most, and never
    past the expiry of any secret in it; ``forget`` drops a tenant's at once (creation,
    rotation and revocation announce it to every instance)."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        *,
        ttl: float = 30.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._box = box
        self._ttl = ttl
        self._size = size
        self._clock = clock
        # Keyed by the tenant's id itself: its text form costs more than the rest of a hit.
        self._cache: dict[tuple[uuid.UUID, str], tuple[float, list[str]]] = {}

    def forget(self, tenant: str) -> None:
        """Drop the tenant's secrets (its id as text; ``*``: everyone's)."""
        if tenant == "*":
            self._cache.clear()
            return
        try:
            tenant_id = uuid.UUID(tenant)
        except ValueError:
            return  # not a tenant id: nothing of it is kept
        for purpose in PURPOSES:
            self._cache.pop((tenant_id, purpose), None)

    async def active(
        self,
        session: AsyncSession | None,
        tenant_id: uuid.UUID,
        *,
        purpose: SecretPurpose,
    ) -> list[str]:
        """``active_secrets``, from memory when known; a miss reads through ``session`` (or,
        without one, a short session of the cache's own)."""
        key = (tenant_id, purpose)
        hit = self._cache.get(key)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        if session is None:
            async with self._db.session() as own:
                return await self.active(own, tenant_id, purpose=purpose)
        _check_purpose(purpose)
        wall = utcnow()
        query = TenantSecretRepository(session, tenant_id).active(purpose, wall)
        rows = (await session.execute(query)).scalars().all()
        values = [self._box.open(row.sealed, context=_context(tenant_id, purpose)) for row in rows]
        lifetime = min(
            [self._ttl]
            + [(row.expires_at - wall).total_seconds() for row in rows if row.expires_at]
        )
        if len(self._cache) >= self._size:
            self._cache.clear()
        self._cache[key] = (now + lifetime, values)
        return values
