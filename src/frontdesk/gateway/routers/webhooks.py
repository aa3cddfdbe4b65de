"""The tenant's webhook endpoints (``/v1/webhooks``): secret key with ``webhooks:manage``."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from frontdesk.delivery import endpoints
from frontdesk.delivery.schemas import (
    PingResult,
    SecretRotate,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from frontdesk.gateway.deps import Caller, RuntimeDep, Session, requires
from frontdesk.store.base import utcnow

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Manager = Annotated[Caller, Depends(requires("webhooks:manage"))]


@router.get("")
async def list_webhooks(session: Session, caller: Manager) -> list[WebhookOut]:
    """The tenant's webhook endpoints, oldest first (secrets are never listed)."""
    rows = await endpoints.list_endpoints(session, caller.tenant)
    return [WebhookOut.model_validate(row) for row in rows]


@router.post("", status_code=201)
async def create_webhook(
    rt: RuntimeDep, session: Session, caller: Manager, body: WebhookCreate
) -> WebhookCreated:
    """Register an endpoint; its signing secret is in the answer, and only there."""
    issued = await endpoints.create_endpoint(
        session,
        rt.box,
        rt.webhooks.guard,
        caller.tenant,
        url=body.url,
        events=body.events,
        description=body.description,
        actor=caller.subject,
    )
    await session.refresh(issued.row)
    return WebhookCreated(
        **WebhookOut.model_validate(issued.row).model_dump(), secret=issued.secret
    )


@router.get("/{webhook_id}")
async def get_webhook(session: Session, caller: Manager, webhook_id: uuid.UUID) -> WebhookOut:
    """One endpoint."""
    return WebhookOut.model_validate(
        await endpoints.get_endpoint(session, caller.tenant, webhook_id)
    )


@router.patch("/{webhook_id}")
async def update_webhook(
    rt: RuntimeDep, session: Session, caller: Manager, webhook_id: uuid.UUID, body: WebhookUpdate
) -> WebhookOut:
    """Change an endpoint's URL, events, description, or enable/disable it."""
    row = await endpoints.update_endpoint(
        session,
        rt.webhooks.guard,
        caller.tenant,
        webhook_id,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
        actor=caller.subject,
    )
    await session.flush()
    await session.refresh(row)
    return WebhookOut.model_validate(row)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(session: Session, caller: Manager, webhook_id: uuid.UUID) -> Response:
    """Remove an endpoint and its secrets; nothing more is sent to it."""
    await endpoints.delete_endpoint(session, caller.tenant, webhook_id, actor=caller.subject)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret")
async def rotate_webhook_secret(
    rt: RuntimeDep,
    session: Session,
    caller: Manager,
    webhook_id: uuid.UUID,
    body: SecretRotate | None = None,
) -> SecretRotated:
    """A new signing secret (shown once); the older ones keep signing during the overlap."""
    overlap = timedelta(seconds=(body or SecretRotate()).overlap_seconds)
    issued = await endpoints.rotate_secret(
        session, rt.box, caller.tenant, webhook_id, overlap=overlap, actor=caller.subject
    )
    return SecretRotated(
        id=issued.row.id, secret=issued.secret, older_secrets_expire_at=utcnow() + overlap
    )


@router.post("/{webhook_id}/test")
async def test_webhook(
    rt: RuntimeDep, session: Session, caller: Manager, webhook_id: uuid.UUID
) -> PingResult:
    """Send a signed ``ping`` to the endpoint now and report what it answered."""
    ping = await rt.webhooks.ping(session, caller.tenant, webhook_id)
    return PingResult(
        delivered=ping.delivered, status=ping.status, error=ping.error, webhook_id=ping.webhook_id
    )
