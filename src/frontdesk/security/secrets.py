"""A tenant's shared secrets, sealed at rest, rotated with an overlap.

Every secret is a Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes.

* ``api``: the tenant signs its requests to us (``signatures.verify_request``).
* ``webhook``: we sign our webhooks to the tenant (``signatures.sign_request``).
* ``identity``: the tenant's server proves a web chat visitor's user id, either with
  ``hex(HMAC-SHA256(key=secret, msg=user_id))`` or with an HS256 JWT signed with the secret,
  the whole ``whsec_…`` string (UTF-8) being the key in both cases (``identity.verify_identity``).

A rotation issues a new secret and lets the older ones work until the overlap ends, so the
tenant can switch without a window where requests fail. The plain value is returned once, at
creation; only the sealed value and a short hint are kept. Nothing here commits.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import Select, or_
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Invalid, NotFound
from frontdesk.security.audit import record
from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import TenantSecret
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository

SecretPurpose = Literal["api", "webhook", "identity"]
PURPOSES: tuple[SecretPurpose, ...] = get_args(SecretPurpose)
PREFIX = "whsec_"
HINT_LENGTH = 12


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
