"""The job runner: claims due outbox jobs, runs their handlers, retries with backoff, dead-letters.

A runner claims only the kinds it has handlers for, so runners of different roles can share
one outbox.

On PostgreSQL, several processes claim with ``FOR UPDATE SKIP LOCKED`` and never run one job
twice at once; a job whose runner died is claimed again once its lease expires.

Each kind has its retry policy, and may name a destination (``breaker``) for the circuit breaker
of its tenant: while that circuit is open, the kind's jobs for it wait without an attempt. A
failure's ``retry_after`` (a provider's ``Retry-After``) is the earliest next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.delivery.breaker import BreakerKey, CircuitBreaker
from frontdesk.delivery.errors import PermanentFailure, RetryLater
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.service import DEFAULT_POLICY, RetryPolicy
from frontdesk.observability.metrics import Metrics
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.store.scope import bind_tenant, system_scope
from frontdesk.tenancy.models import Tenant

Handler = Callable[[AsyncSession, OutboxJob], Awaitable[None]]
Destination = Callable[[OutboxJob], str | None]
OnDead = Callable[[AsyncSession, OutboxJob, Exception], Awaitable[None]]
LEASE = timedelta(seconds=60)
MAX_RETRY_AFTER = timedelta(days=1)
KEEP_DONE = timedelta(days=7)
PRUNE_EVERY = 3600.0
log = structlog.get_logger("frontdesk.delivery")


@dataclass(frozen=True, slots=True)
class JobKind:
    """What the runner knows of a kind: its handler and how it fails.

    ``breaker`` names the job's destination (None: no circuit); ``on_dead`` runs in the
    transaction that dead-letters a job (e.g. to mark the message failed)."""

    handler: Handler
    policy: RetryPolicy = DEFAULT_POLICY
    breaker: Destination | None = None
    on_dead: OnDead | None = None


class JobRunner:
    def __init__(
        self,
        db: Database,
        metrics: Metrics,
        *,
        poll_seconds: float = 1.0,
        batch: int = 20,
        lease: timedelta = LEASE,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._poll = poll_seconds
        self._batch = batch
        self._lease = lease
        self.breaker = breaker or CircuitBreaker(gauge=metrics.circuit_open)
        self._handlers: dict[str, JobKind] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._skip_locked = not db.url.startswith("sqlite")

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        breaker: Destination | None = None,
        on_dead: OnDead | None = None,
    ) -> None:
        self._handlers[kind] = JobKind(handler, policy, breaker, on_dead)

    def wakeup(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="frontdesk-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        next_prune = 0.0
        while True:
            try:
                ran = await self.run_due()
                if time.monotonic() >= next_prune:
                    await self.prune_done()
                    next_prune = time.monotonic() + PRUNE_EVERY
            except Exception:
                log.exception("delivery.runner_error")
                ran = 0
            if ran:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def prune_done(self, *, keep: timedelta = KEEP_DONE) -> int:
        """Delete jobs finished more than ``keep`` ago (dead letters stay until retried)."""
        async with self._db.session() as session, system_scope(session):
            result = await session.execute(
                delete(OutboxJob)
                .where(OutboxJob.status == "done", OutboxJob.updated_at < utcnow() - keep)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def run_due(self) -> int:
        """Claim and run one batch of due jobs; returns how many ran."""
        jobs = await self._claim()
        for job in jobs:
            await self._run(job)
        return len(jobs)

    async def _claim(self) -> list[OutboxJob]:
        now = utcnow()
        if not self._handlers:
            return []
        due = (
            OutboxJob.kind.in_(list(self._handlers))
            & or_(
                (OutboxJob.status == "pending") & (OutboxJob.run_at <= now),
                (OutboxJob.status == "running") & (OutboxJob.locked_until < now),
            )
            # A suspended tenant's jobs wait, untouched, until it is reactivated.
            & OutboxJob.tenant_id.in_(select(Tenant.id).where(Tenant.status == "active"))
        )
        async with self._db.session() as session, system_scope(session):
            query = select(OutboxJob).where(due).order_by(OutboxJob.run_at).limit(self._batch)
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            jobs = list((await session.execute(query)).scalars().all())
            if jobs:
                await session.execute(
                    update(OutboxJob)
                    .where(OutboxJob.id.in_([job.id for job in jobs]))
                    .values(
                        status="running",
                        locked_until=now + self._lease,
                        attempts=OutboxJob.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
        return jobs

    async def _run(self, job: OutboxJob) -> None:
        spec = self._handlers[job.kind]
        destination = spec.breaker(job) if spec.breaker is not None else None
        circuit: BreakerKey | None = (job.tenant_id, destination) if destination else None
        if circuit is not None:
            wait = self.breaker.admit(circuit)
            if wait is not None:
                await self._postpone(job, utcnow() + timedelta(seconds=wait))
                self._metrics.jobs.labels(job.kind, "postponed").inc()
                return
        attempt = job.attempts + 1
        started = time.perf_counter()
        bound = log.bind(job_id=str(job.id), kind=job.kind, tenant_id=str(job.tenant_id))
        try:
            async with self._db.session() as session:
                bind_tenant(session, job.tenant_id)
                await spec.handler(session, job)
                await self._finish(session, job, status="done", error=None)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            permanent = isinstance(exc, PermanentFailure) or attempt >= job.max_attempts
            if circuit is not None:
                self._count(circuit, exc)
            async with self._db.session() as session:
                bind_tenant(session, job.tenant_id)
                if permanent and spec.on_dead is not None:
                    await self._on_dead(spec.on_dead, session, job, exc)
                await self._finish(
                    session,
                    job,
                    status="dead" if permanent else "pending",
                    error=error,
                    run_at=None if permanent else utcnow() + self._delay(spec.policy, attempt, exc),
                )
            outcome = "dead" if permanent else "retry"
            if isinstance(exc, RetryLater) and not permanent:
                outcome = "retry_later"
            bound.warning("delivery.job_failed", attempt=attempt, outcome=outcome, error=error)
            self._metrics.jobs.labels(job.kind, outcome).inc()
        else:
            if circuit is not None:
                self.breaker.succeeded(circuit)
            self._metrics.jobs.labels(job.kind, "done").inc()
        self._metrics.job_latency.labels(job.kind).observe(time.perf_counter() - started)

    def _count(self, circuit: BreakerKey, exc: Exception) -> None:
        """A slow-down answer or one job refused says nothing about the destination's health."""
        if isinstance(exc, RetryLater | PermanentFailure):
            self.breaker.released(circuit)
        else:
            self.breaker.failed(circuit)

    @staticmethod
    def _delay(policy: RetryPolicy, attempt: int, exc: Exception) -> timedelta:
        """The policy's backoff, but never sooner than the provider's ``retry_after``."""
        delay = policy.delay(attempt)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_AFTER))
        return delay

    @staticmethod
    async def _on_dead(
        on_dead: OnDead, session: AsyncSession, job: OutboxJob, exc: Exception
    ) -> None:
        try:
            async with session.begin_nested():
                await on_dead(session, job, exc)
        except Exception:
            log.exception("delivery.on_dead_failed", job_id=str(job.id), kind=job.kind)

    async def _postpone(self, job: OutboxJob, until: datetime) -> None:
        """Give a claimed job back untouched (its attempt not counted) to run at ``until``."""
        async with self._db.session() as session:
            bind_tenant(session, job.tenant_id)
            await session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job.id)
                .values(status="pending", locked_until=None, run_at=until, attempts=job.attempts)
                .execution_options(synchronize_session=False)
            )

    @staticmethod
    async def _finish(
        session: AsyncSession,
        job: OutboxJob,
        *,
        status: str,
        error: str | None,
        run_at: object | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status, "locked_until": None, "last_error": error}
        if run_at is not None:
            values["run_at"] = run_at
        await session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
