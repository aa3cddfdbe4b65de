"""The platform operator's API for tenants' channel connections (the owner's ``admin`` scope)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.channels import connections
from frontdesk.channels.models import ChannelConnection
from frontdesk.gateway.deps import RuntimeDep, Session
from frontdesk.gateway.routers.admin import Operator, SlugPath, actor_of
from frontdesk.tenancy import service as tenants

router = APIRouter(prefix="/v1/admin/tenants/{slug}/channels", tags=["platform admin"])


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: connections.Kind
    account_id: str = Field(
        min_length=1,
        max_length=64,
        description="WhatsApp: phone-number id; Messenger: page id; Instagram: account id",
    )
    credentials: dict[str, str] = Field(
        description="WhatsApp: app_secret, verify_token, access_token (sealed, never returned)"
    )
    options: dict[str, Any] = Field(default_factory=dict)


class ConnectionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credentials: dict[str, str] | None = None
    options: dict[str, Any] | None = None
    status: Literal["active", "paused"] | None = None


class ConnectionOut(BaseModel):
    id: uuid.UUID
    kind: str
    account_id: str
    status: str
    options: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: ChannelConnection) -> ConnectionOut:
        return cls(
            id=row.id,
            kind=row.kind,
            account_id=row.account_id,
            status=row.status,
            options=dict(row.options),
            created_at=row.created_at,
        )


@router.get("")
async def list_connections(
    session: Session, caller: Operator, slug: SlugPath
) -> list[ConnectionOut]:
    """The tenant's channel connections (never their credentials)."""
    row = await tenants.get_tenant(session, slug)
    return [ConnectionOut.of(c) for c in await connections.list_connections(session, row.id)]


@router.post("", status_code=201)
async def add_connection(
    rt: RuntimeDep, session: Session, caller: Operator, slug: SlugPath, body: ConnectionCreate
) -> ConnectionOut:
    """Connect a provider account; 409 when it is already connected to any tenant."""
    row = await tenants.get_tenant(session, slug)
    added = await connections.add_connection(
        session,
        rt.box,
        row.id,
        kind=body.kind,
        account_id=body.account_id,
        credentials=body.credentials,
        options=body.options,
        actor=actor_of(caller),
    )
    return ConnectionOut.of(added)


@router.patch("/{connection_id}")
async def change_connection(
    rt: RuntimeDep,
    session: Session,
    caller: Operator,
    slug: SlugPath,
    connection_id: uuid.UUID,
    body: ConnectionChange,
) -> ConnectionOut:
    """Replace the credentials, change options, or pause and resume the connection."""
    row = await tenants.get_tenant(session, slug)
    changed = await connections.update_connection(
        session,
        rt.box,
        row.id,
        connection_id,
        credentials=body.credentials,
        options=body.options,
        status=body.status,
        actor=actor_of(caller),
    )
    return ConnectionOut.of(changed)


@router.delete("/{connection_id}", status_code=204)
async def remove_connection(
    session: Session, caller: Operator, slug: SlugPath, connection_id: uuid.UUID
) -> Response:
    row = await tenants.get_tenant(session, slug)
    await connections.remove_connection(session, row.id, connection_id, actor=actor_of(caller))
    return Response(status_code=204)
