"""The job runner: success, retry with backoff, dead letters after the last attempt."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from frontdesk.delivery.errors import PermanentFailure
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import backoff, enqueue
from frontdesk.delivery.worker import JobRunner
from frontdesk.observability.metrics import Metrics
from frontdesk.runtime import Runtime, build_runtime
from frontdesk.settings import Settings
from frontdesk.store.base import utcnow
from frontdesk.store.scope import system_scope
from tests.factories import make_tenant


async def _job(rt: Runtime, job_id: uuid.UUID) -> OutboxJob:
    async with rt.db.session() as session, system_scope(session):
        return (await session.execute(select(OutboxJob).where(OutboxJob.id == job_id))).scalar_one()


async def _runner(
    rt: Runtime, kind: str, outcomes: list[Exception | None]
) -> tuple[JobRunner, list[dict]]:
    """A runner of its own (the app's keeps running) whose ``kind`` handler plays ``outcomes``."""
    seen: list[dict] = []
    runner = JobRunner(rt.db, Metrics())

    async def handler(session: object, job: OutboxJob) -> None:
        seen.append(job.payload)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    runner.register(kind, handler)
    return runner, seen


async def _enqueue(rt: Runtime, kind: str, **fields: object) -> uuid.UUID:
    tenant = await make_tenant(rt, with_pack=False)
    async with rt.db.session() as session:
        job = await enqueue(
            session, tenant.context.id, kind=kind, payload={"n": 1}, key=f"k:{uuid.uuid4()}"
        )
        for name, value in fields.items():
            setattr(job, name, value)
        await session.flush()
        return job.id


async def test_a_failed_job_is_retried_later_then_succeeds(runtime: Runtime) -> None:
    kind = f"test.{uuid.uuid4().hex}"
    runner, seen = await _runner(runtime, kind, [RuntimeError("provider down"), None])
    job_id = await _enqueue(runtime, kind)

    await runner.run_due()
    job = await _job(runtime, job_id)
    assert job.status == "pending"
    assert job.attempts == 1
    assert job.last_error == "RuntimeError: provider down"
    assert job.run_at >= job.updated_at.replace(microsecond=0)

    async with runtime.db.session() as session, system_scope(session):
        (await session.get(OutboxJob, job_id)).run_at = utcnow()  # type: ignore[union-attr]
    await runner.run_due()
    job = await _job(runtime, job_id)
    assert job.status == "done"
    assert job.attempts == 2
    assert len(seen) == 2


async def test_the_last_attempt_dead_letters_the_job(runtime: Runtime) -> None:
    kind = f"test.{uuid.uuid4().hex}"
    runner, _ = await _runner(runtime, kind, [RuntimeError("still down")])
    job_id = await _enqueue(runtime, kind, max_attempts=1)
    await runner.run_due()
    job = await _job(runtime, job_id)
    assert job.status == "dead"
    assert "still down" in (job.last_error or "")


async def test_a_permanent_failure_is_not_retried(runtime: Runtime) -> None:
    kind = f"test.{uuid.uuid4().hex}"
    runner, seen = await _runner(runtime, kind, [PermanentFailure("bad payload")])
    job_id = await _enqueue(runtime, kind)
    await runner.run_due()
    assert (await _job(runtime, job_id)).status == "dead"
    assert len(seen) == 1


async def test_enqueue_is_idempotent_on_its_key(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    async with runtime.db.session() as session:
        first = await enqueue(session, tenant.context.id, kind="x.y", payload={}, key="same")
        await session.flush()
        second = await enqueue(session, tenant.context.id, kind="x.y", payload={}, key="same")
    assert first.id == second.id


def test_backoff_grows_exponentially_within_its_cap() -> None:
    for attempt in range(1, 20):
        delay = backoff(attempt, base=1.0, cap=60.0).total_seconds()
        assert 0 <= delay <= min(60.0, 2**attempt)


async def test_stopping_the_runner_mid_claim_always_returns(settings: Settings) -> None:
    """A cancellation that lands inside a claim must stop the runner, not be swallowed."""
    rt = build_runtime(settings)
    await rt.start()
    try:
        for attempt in range(50):
            if rt.jobs._task is None:
                rt.jobs.start()
            await asyncio.sleep(0.001 * (attempt % 7))
            # Bounded, not fast: on SQLite a claim may sit in the busy wait (5 s) of a lock held
            # by the suite's other runner, and a thread cannot be interrupted.
            await asyncio.wait_for(asyncio.shield(rt.jobs.stop()), 15)
    finally:
        await rt.stop()


async def test_done_jobs_are_pruned_after_a_week_and_dead_letters_kept(runtime: Runtime) -> None:
    old_done = await _enqueue(runtime, "x.old", status="done")
    new_done = await _enqueue(runtime, "x.new", status="done")
    old_dead = await _enqueue(runtime, "x.dead", status="dead")
    async with runtime.db.session() as session, system_scope(session):
        for job_id in (old_done, old_dead):
            await session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job_id)
                .values(updated_at=utcnow() - timedelta(days=8))
            )
    assert await JobRunner(runtime.db, Metrics()).prune_done() >= 1
    async with runtime.db.session() as session, system_scope(session):
        left = set(
            (
                await session.execute(
                    select(OutboxJob.id).where(OutboxJob.id.in_([old_done, new_done, old_dead]))
                )
            ).scalars()
        )
    assert left == {new_done, old_dead}


async def test_a_suspended_tenants_jobs_wait_until_it_is_reactivated(runtime: Runtime) -> None:
    from frontdesk.tenancy import service as tenants
    from frontdesk.tenancy.repository import TenantTable

    kind = f"test.{uuid.uuid4().hex}"
    runner, seen = await _runner(runtime, kind, [None])
    job_id = await _enqueue(runtime, kind)
    tenant_id = (await _job(runtime, job_id)).tenant_id

    async def set_status(status: str) -> None:
        async with runtime.db.session() as session:
            row = await TenantTable(session).by_id(tenant_id)
            assert row is not None
            await tenants.set_status(session, row, status, actor="test")  # type: ignore[arg-type]

    await set_status("suspended")
    assert await runner.run_due() == 0
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts, seen) == ("pending", 0, [])

    await set_status("active")
    await runner.run_due()
    assert (await _job(runtime, job_id)).status == "done"
    assert seen == [{"n": 1}]
