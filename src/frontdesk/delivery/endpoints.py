"""A tenant's webhook endpoints: register, change, remove, and their signing secrets.

Each endpoint has its own Standard Webhooks secrets (``whsec_…``), sealed at rest with the
instance key; the plain value is returned once, at creation or rotation. A rotation keeps the
older secrets working for an overlap, and every active secret signs each webhook meanwhile, so
the tenant can switch without a failed verification. URLs pass the SSRF guard on the way in
(and again before every request). Every change is audited and drops the tenant's cached context
on every instance, since the context lists the endpoints. Nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.delivery.models import WebhookEndpointRow, WebhookSecret
from frontdesk.delivery.webhooks import ALL, EVENTS
from frontdesk.errors import Invalid, NotFound
from frontdesk.realtime.invalidation import announce
from frontdesk.security.audit import record
from frontdesk.security.crypto import SecretBox
from frontdesk.security.secrets import HINT_LENGTH, generate_secret
from frontdesk.security.ssrf import UrlGuard
from frontdesk.store.base import utcnow
from frontdesk.store.repository import TenantRepository
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.context import TenantContext, WebhookEndpoint
from frontdesk.tenancy.service import TOPIC as TENANT_TOPIC

MAX_ENDPOINTS = 20
MAX_OVERLAP = timedelta(days=30)
DEFAULT_OVERLAP = timedelta(hours=24)


class EndpointNotFound(NotFound):
    title = "Webhook endpoint not found"
    type_slug = "webhook-not-found"


class InvalidEndpoint(Invalid):
    title = "Invalid webhook endpoint"
    type_slug = "invalid-webhook"


@dataclass(frozen=True, slots=True)
class IssuedEndpoint:
    """An endpoint with a new secret, whose plain value is not shown again."""

    row: WebhookEndpointRow
    secret: str = field(repr=False)


class EndpointRepository(TenantRepository[WebhookEndpointRow]):
    model = WebhookEndpointRow


class WebhookSecretRepository(TenantRepository[WebhookSecret]):
    model = WebhookSecret


def to_endpoint(row: WebhookEndpointRow) -> WebhookEndpoint:
    return WebhookEndpoint(id=row.id, url=row.url, events=tuple(row.events), enabled=row.enabled)


async def tenant_endpoints(
    session: AsyncSession, tenant_id: uuid.UUID
) -> tuple[WebhookEndpoint, ...]:
    """The tenant's endpoints for its context (read whatever tenant the session is bound to)."""
    async with system_scope(session):
        rows = await session.scalars(
            select(WebhookEndpointRow)
            .where(WebhookEndpointRow.tenant_id == tenant_id)
            .order_by(WebhookEndpointRow.created_at)
        )
        return tuple(to_endpoint(row) for row in rows)


def check_events(events: Sequence[str]) -> list[str]:
    """The subscribed events, deduplicated: known event types, or ``*`` alone."""
    chosen = sorted(set(events))
    if not chosen:
        raise InvalidEndpoint("subscribe to at least one event (or '*' for all)")
    unknown = [e for e in chosen if e not in EVENTS and e != ALL]
    if unknown:
        raise InvalidEndpoint(
            f"unknown event(s): {', '.join(unknown[:5])[:200]}; known: {', '.join(EVENTS)} or *"
        )
    if ALL in chosen and len(chosen) > 1:
        raise InvalidEndpoint("'*' already means every event: give it alone")
    return chosen


def _context(tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    return f"{tenant_id}:webhook:{endpoint_id}"


def _issue(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> tuple[WebhookSecret, str]:
    value = generate_secret()
    row = WebhookSecretRepository(session, tenant_id).add(
        WebhookSecret(
            endpoint_id=endpoint_id,
            sealed=box.seal(value, context=_context(tenant_id, endpoint_id)),
            hint=value[:HINT_LENGTH],
        )
    )
    return row, value


def _changed(session: AsyncSession, tenant: TenantContext) -> None:
    announce(session, TENANT_TOPIC, tenant.slug)


async def create_endpoint(
    session: AsyncSession,
    box: SecretBox,
    guard: UrlGuard,
    tenant: TenantContext,
    *,
    url: str,
    events: Sequence[str],
    description: str = "",
    actor: str,
) -> IssuedEndpoint:
    """Register an endpoint (its URL checked against SSRF); its first secret is returned once."""
    chosen = check_events(events)
    await guard.check(url)
    repo = EndpointRepository(session, tenant.id)
    count = len((await session.execute(repo.select())).scalars().all())
    if count >= MAX_ENDPOINTS:
        raise InvalidEndpoint(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints")
    row = repo.add(WebhookEndpointRow(url=url, events=chosen, description=description[:200]))
    await session.flush()
    _, value = _issue(session, box, tenant.id, row.id)
    await session.flush()
    record(
        session,
        tenant.id,
        actor=actor,
        action="webhook.created",
        target=str(row.id),
        data={"events": chosen},
    )
    _changed(session, tenant)
    return IssuedEndpoint(row=row, secret=value)


async def list_endpoints(
    session: AsyncSession, tenant: TenantContext
) -> Sequence[WebhookEndpointRow]:
    repo = EndpointRepository(session, tenant.id)
    return (
        (await session.execute(repo.select().order_by(WebhookEndpointRow.created_at)))
        .scalars()
        .all()
    )


async def get_endpoint(
    session: AsyncSession, tenant: TenantContext, endpoint_id: uuid.UUID
) -> WebhookEndpointRow:
    """The tenant's endpoint (``EndpointNotFound`` for another tenant's, as for none)."""
    row = await EndpointRepository(session, tenant.id).get(endpoint_id)
    if row is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return row


async def update_endpoint(
    session: AsyncSession,
    guard: UrlGuard,
    tenant: TenantContext,
    endpoint_id: uuid.UUID,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    actor: str,
) -> WebhookEndpointRow:
    """Change what is given; re-enabling clears the reason it was disabled."""
    row = await get_endpoint(session, tenant, endpoint_id)
    changed: list[str] = []
    if url is not None and url != row.url:
        await guard.check(url)
        row.url = url
        changed.append("url")
    if events is not None:
        row.events = check_events(events)
        changed.append("events")
    if description is not None:
        row.description = description[:200]
        changed.append("description")
    if enabled is not None and enabled != row.enabled:
        row.enabled = enabled
        row.disabled_reason = None if enabled else "disabled by the tenant"
        changed.append("enabled")
    if changed:
        row.updated_at = utcnow()
        record(
            session,
            tenant.id,
            actor=actor,
            action="webhook.updated",
            target=str(row.id),
            data={"changed": changed},
        )
        _changed(session, tenant)
    return row


async def disable_endpoint(
    session: AsyncSession, tenant: TenantContext, endpoint_id: uuid.UUID, *, reason: str
) -> None:
    """Stop sending to an endpoint (the receiver said it is gone); the tenant can re-enable it."""
    row = await EndpointRepository(session, tenant.id).get(endpoint_id)
    if row is None or not row.enabled:
        return
    row.enabled = False
    row.disabled_reason = reason[:200]
    record(
        session,
        tenant.id,
        actor="system",
        action="webhook.disabled",
        target=str(row.id),
        data={"reason": reason[:200]},
    )
    _changed(session, tenant)


async def delete_endpoint(
    session: AsyncSession, tenant: TenantContext, endpoint_id: uuid.UUID, *, actor: str
) -> None:
    """Remove an endpoint and its secrets; webhooks still queued for it are dropped unsent."""
    row = await get_endpoint(session, tenant, endpoint_id)
    await session.delete(row)
    await session.flush()
    record(session, tenant.id, actor=actor, action="webhook.deleted", target=str(endpoint_id))
    _changed(session, tenant)


def _active(repo: WebhookSecretRepository, endpoint_id: uuid.UUID) -> Select[WebhookSecret]:
    return (
        repo.select()
        .where(
            WebhookSecret.endpoint_id == endpoint_id,
            or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > utcnow()),
        )
        .order_by(WebhookSecret.created_at.desc(), WebhookSecret.id.desc())
    )


async def rotate_secret(
    session: AsyncSession,
    box: SecretBox,
    tenant: TenantContext,
    endpoint_id: uuid.UUID,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    actor: str,
) -> IssuedEndpoint:
    """A new secret for the endpoint (returned once); older ones keep signing for ``overlap``."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise InvalidEndpoint(f"the overlap is between 0 and {MAX_OVERLAP.days} days")
    row = await get_endpoint(session, tenant, endpoint_id)
    repo = WebhookSecretRepository(session, tenant.id)
    until = utcnow() + overlap
    older = (await session.execute(_active(repo, row.id))).scalars().all()
    for secret in older:
        if secret.expires_at is None or secret.expires_at > until:
            secret.expires_at = until
    _, value = _issue(session, box, tenant.id, row.id)
    await session.flush()
    record(
        session,
        tenant.id,
        actor=actor,
        action="webhook.secret_rotated",
        target=str(row.id),
        data={"overlap_seconds": int(overlap.total_seconds()), "expiring": len(older)},
    )
    return IssuedEndpoint(row=row, secret=value)


async def active_secrets(
    session: AsyncSession, box: SecretBox, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> list[str]:
    """The plain values of the endpoint's unexpired secrets, newest first."""
    repo = WebhookSecretRepository(session, tenant_id)
    rows = (await session.execute(_active(repo, endpoint_id))).scalars().all()
    return [box.open(row.sealed, context=_context(tenant_id, endpoint_id)) for row in rows]
