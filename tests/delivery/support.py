"""Helpers shared by the webhook tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from typer.testing import CliRunner

from frontdesk.cli import app as cli
from frontdesk.delivery import endpoints, webhooks
from frontdesk.delivery.breaker import CircuitBreaker
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.worker import JobRunner
from frontdesk.observability.metrics import Metrics
from frontdesk.runtime import Runtime
from frontdesk.store.base import utcnow
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.context import TenantContext
from tests.delivery.receiver import Receiver
from tests.factories import SampleTenant, make_tenant


@dataclass(frozen=True)
class Hooked:
    tenant: SampleTenant
    endpoint_id: uuid.UUID
    secret: str

    @property
    def context(self) -> TenantContext:
        return self.tenant.context


async def hooked_tenant(
    rt: Runtime, receiver: Receiver, *, events: list[str] | None = None, url: str | None = None
) -> Hooked:
    """A tenant with one endpoint pointing at ``receiver``, which learns its secret."""
    tenant = await make_tenant(rt)
    async with rt.db.session() as session:
        issued = await endpoints.create_endpoint(
            session,
            rt.box,
            rt.webhooks.guard,
            tenant.context,
            url=url or receiver.url,
            events=events or ["*"],
            actor="test",
        )
    receiver.secrets.append(issued.secret)
    context = await rt.tenants.by_id(tenant.context.id)
    assert [e.id for e in context.webhooks] == [issued.row.id]
    return Hooked(
        SampleTenant(context=context, publishable_key=tenant.publishable_key),
        issued.row.id,
        issued.secret,
    )


async def jobs_of(rt: Runtime, tenant_id: uuid.UUID, kind: str = "webhook.send") -> list[OutboxJob]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(OutboxJob)
            .where(OutboxJob.tenant_id == tenant_id, OutboxJob.kind == kind)
            .order_by(OutboxJob.created_at)
        )
        return list(rows)


async def make_due(rt: Runtime, tenant_id: uuid.UUID) -> None:
    """Bring the tenant's waiting jobs forward to now (instead of waiting out their backoff)."""
    async with rt.db.session() as session, system_scope(session):
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.tenant_id == tenant_id, OutboxJob.status == "pending")
            .values(run_at=utcnow())
        )


async def eventually(check: Callable[[], bool], *, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)


async def emit_event(rt: Runtime, hooked: Hooked, key: str, event: str = "lead.created") -> None:
    async with rt.db.session() as session:
        await webhooks.emit(session, hooked.context, event, {"key": key}, key=key)


def runner_for(
    rt: Runtime, *, breaker: CircuitBreaker | None = None, lease: timedelta | None = None
) -> JobRunner:
    """A runner of its own for ``webhook.send`` only (the app's stays held)."""
    runner = JobRunner(
        rt.db, Metrics(), breaker=breaker, **({"lease": lease} if lease is not None else {})
    )
    sender = rt.webhooks
    runner.register(
        sender.kind,
        sender,
        policy=sender.policy,
        breaker=sender.destination,
        on_dead=sender.on_dead,
    )
    return runner


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the ``frontdesk`` CLI (call it in a thread from async tests: it runs its own loop)."""
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr
