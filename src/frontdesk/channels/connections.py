"""A tenant's channel connections: added, listed and removed, credentials sealed at rest.

Every connection rides on the tenant's ``TenantContext`` (``channels``), so the channels read
them as they read every other setting; the credentials stay sealed there and are opened on use.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email.schedule import polls, schedule_poll
from frontdesk.channels.email.settings import EmailCredentials, EmailOptions
from frontdesk.channels.meta_messaging.settings import (
    InstagramOptions,
    MessengerOptions,
    PageCredentials,
)
from frontdesk.channels.models import ChannelConnection
from frontdesk.crm.schemas import HubSpotCredentials, HubSpotOptions
from frontdesk.errors import Conflict, Invalid, NotFound
from frontdesk.realtime.invalidation import announce
from frontdesk.security import audit
from frontdesk.security.crypto import SecretBox
from frontdesk.store.repository import TenantRepository
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.context import Connection
from frontdesk.tenancy.models import Tenant
from frontdesk.tenancy.service import TOPIC

Kind = Literal["whatsapp", "hubspot", "email", "messenger", "instagram"]
KINDS: tuple[Kind, ...] = ("whatsapp", "hubspot", "email", "messenger", "instagram")


class WhatsAppCredentials(BaseModel):
    """What a WhatsApp Cloud API connection needs: the app secret that signs Meta's webhooks,
    the verify token of the subscription handshake, and the access token that sends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    app_secret: str = Field(min_length=8, max_length=256)
    verify_token: str = Field(min_length=8, max_length=256)
    access_token: str = Field(min_length=8, max_length=2048)


class WhatsAppOptions(BaseModel):
    """Non-secret settings: the number customers see (for ``wa.me`` links) and the approved
    template that re-opens a conversation outside the 24-hour window."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone_number: str | None = Field(default=None, max_length=20)
    reengagement_template: str | None = Field(default=None, max_length=512)
    template_language: str = Field(default="es", max_length=16)

    @field_validator("phone_number")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.removeprefix("+").replace(" ", "").replace("-", "")
        if not digits.isdigit() or not 7 <= len(digits) <= 15:
            raise ValueError("an international phone number, digits only (E.164)")
        return digits


CREDENTIALS: dict[str, type[BaseModel]] = {
    "whatsapp": WhatsAppCredentials,
    "hubspot": HubSpotCredentials,
    "email": EmailCredentials,
    "messenger": PageCredentials,
    "instagram": PageCredentials,
}
OPTIONS: dict[str, type[BaseModel]] = {
    "whatsapp": WhatsAppOptions,
    "hubspot": HubSpotOptions,
    "email": EmailOptions,
    "messenger": MessengerOptions,
    "instagram": InstagramOptions,
}
ACCOUNT_FLAGS: dict[str, str] = {
    "whatsapp": "phone-number-id",
    "hubspot": "account-id",
    "email": "address",
    "messenger": "page-id",
    "instagram": "account-id",
}
"""The ``frontdesk channel add`` flag that names each kind's account."""


class ConnectionNotFound(NotFound):
    title = "Channel connection not found"
    type_slug = "channel-connection-not-found"


class ConnectionExists(Conflict):
    title = "Channel account already connected"
    type_slug = "channel-connection-exists"


class ConnectionRepository(TenantRepository[ChannelConnection]):
    model = ChannelConnection


def to_connection(row: ChannelConnection) -> Connection:
    return Connection(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=row.kind,
        account_id=row.account_id,
        status=row.status,
        sealed=row.credentials,
        options=dict(row.options),
    )


def _seal_context(tenant_id: uuid.UUID, kind: str, account_id: str) -> str:
    return f"{tenant_id}:channel:{kind}:{account_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _verify_hash(secrets: BaseModel) -> str | None:
    """The hash the subscription handshake finds the connection by (kinds that have one)."""
    token = getattr(secrets, "verify_token", None)
    return token_hash(token) if isinstance(token, str) and token else None


def _validated(kind: str, schema: Mapping[str, type[BaseModel]], data: Mapping[str, Any]) -> Any:
    if kind not in schema:
        raise Invalid(f"unknown channel '{kind}': one of {', '.join(KINDS)}")
    try:
        return schema[kind].model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(problems[:500]) from exc


def _account(account_id: str) -> str:
    account_id = account_id.strip()
    if not account_id or len(account_id) > 64 or not account_id.isascii():
        raise Invalid("the account id is 1 to 64 ASCII characters")
    return account_id


async def add_connection(
    session: AsyncSession,
    box: SecretBox,
    tenant_id: uuid.UUID,
    *,
    kind: str,
    account_id: str,
    credentials: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    actor: str,
) -> ChannelConnection:
    """Connect a provider account to the tenant; the credentials are sealed, never returned."""
    account_id = _account(account_id.lower() if kind == "email" else account_id)
    secrets = _validated(kind, CREDENTIALS, credentials)
    settings = _validated(kind, OPTIONS, options or {})
    async with system_scope(session):
        # One provider account belongs to one tenant; say so without saying which.
        taken = await session.scalar(
            select(ChannelConnection.id).where(
                ChannelConnection.kind == kind, ChannelConnection.account_id == account_id
            )
        )
    if taken is not None:
        raise ConnectionExists(f"this {kind} account is already connected")
    row = ConnectionRepository(session, tenant_id).add(
        ChannelConnection(
            kind=kind,
            account_id=account_id,
            credentials=box.seal(
                secrets.model_dump_json(), context=_seal_context(tenant_id, kind, account_id)
            ),
            verify_token_hash=_verify_hash(secrets),
            options=settings.model_dump(mode="json"),
        )
    )
    await session.flush()
    await _changed(session, tenant_id, actor, "channel.connected", row)
    if polls(kind, row.options):
        await schedule_poll(session, tenant_id, row.id, row.options)
    return row


async def update_connection(
    session: AsyncSession,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    *,
    credentials: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    status: Literal["active", "paused"] | None = None,
    actor: str,
) -> ChannelConnection:
    """Replace credentials (whole) or options (merged), or pause and resume a connection."""
    row = await get_connection(session, tenant_id, connection_id)
    if credentials is not None:
        secrets = _validated(row.kind, CREDENTIALS, credentials)
        row.credentials = box.seal(
            secrets.model_dump_json(),
            context=_seal_context(tenant_id, row.kind, row.account_id),
        )
        row.verify_token_hash = _verify_hash(secrets)
    if options is not None:
        merged = {**row.options, **options}
        row.options = _validated(row.kind, OPTIONS, merged).model_dump(mode="json")
    if status is not None:
        row.status = status
    await session.flush()
    await _changed(session, tenant_id, actor, "channel.updated", row)
    if row.status == "active" and polls(row.kind, row.options):
        await schedule_poll(session, tenant_id, row.id, row.options)
    return row


async def get_connection(
    session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> ChannelConnection:
    row = await ConnectionRepository(session, tenant_id).get(connection_id)
    if row is None:
        raise ConnectionNotFound(f"no channel connection {connection_id}")
    return row


async def list_connections(
    session: AsyncSession, tenant_id: uuid.UUID
) -> Sequence[ChannelConnection]:
    repo = ConnectionRepository(session, tenant_id)
    query = repo.select().order_by(ChannelConnection.kind, ChannelConnection.account_id)
    return (await session.execute(query)).scalars().all()


async def remove_connection(
    session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID, *, actor: str
) -> None:
    row = await get_connection(session, tenant_id, connection_id)
    await session.delete(row)
    await session.flush()
    await _changed(session, tenant_id, actor, "channel.removed", row)


async def _changed(
    session: AsyncSession, tenant_id: uuid.UUID, actor: str, action: str, row: ChannelConnection
) -> None:
    audit.record(
        session,
        tenant_id,
        actor=actor,
        action=action,
        target=str(row.id),
        data={"kind": row.kind, "account_id": row.account_id, "status": row.status},
    )
    tenant = await session.get(Tenant, tenant_id)
    if tenant is not None:
        announce(session, TOPIC, tenant.slug)


async def tenant_connections(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Connection, ...]:
    """The tenant's connections for its context (read whatever tenant the session is bound to)."""
    async with system_scope(session):
        rows = await session.scalars(
            select(ChannelConnection).where(ChannelConnection.tenant_id == tenant_id)
        )
        return tuple(to_connection(row) for row in rows)


async def tenant_of_account(session: AsyncSession, kind: str, account_id: str) -> uuid.UUID | None:
    """Which tenant owns a provider account (a deliberate cross-tenant read)."""
    async with system_scope(session):
        found: uuid.UUID | None = await session.scalar(
            select(ChannelConnection.tenant_id).where(
                ChannelConnection.kind == kind, ChannelConnection.account_id == account_id[:64]
            )
        )
        return found


async def tenants_with_verify_token(
    session: AsyncSession, kind: str, verify_token: str
) -> Sequence[uuid.UUID]:
    """The tenants one of whose ``kind`` connections has this verify token."""
    async with system_scope(session):
        rows = await session.scalars(
            select(ChannelConnection.tenant_id).where(
                ChannelConnection.kind == kind,
                ChannelConnection.verify_token_hash == token_hash(verify_token),
            )
        )
        return rows.all()


def open_credentials(box: SecretBox, connection: Connection) -> Mapping[str, str]:
    """The connection's credentials, unsealed (cached per sealed value)."""
    return _open(
        box,
        connection.sealed,
        _seal_context(connection.tenant_id, connection.kind, connection.account_id),
    )


@lru_cache(maxsize=1024)
def _open(box: SecretBox, sealed: str, context: str) -> Mapping[str, str]:
    data: dict[str, str] = orjson.loads(box.open(sealed, context=context))
    return data
