"""Webhook delivery under failure: receiver down, 429 and 5xx, duplicates, a runner that dies,
the circuit breaker, the 24-hour schedule, dead letters, two runners on one database."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import update

from frontdesk.delivery import webhooks
from frontdesk.delivery.breaker import CircuitBreaker
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.sender import WebhookSender
from frontdesk.delivery.webhooks import RETRY_FOR, WEBHOOK_POLICY
from frontdesk.delivery.worker import JobRunner
from frontdesk.observability.metrics import Metrics
from frontdesk.runtime import Runtime
from frontdesk.security.ssrf import UrlGuard
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.store.scope import bind_tenant, system_scope
from frontdesk.tenancy.store import TenantContextStore
from tests.delivery.receiver import Answer, Receiver
from tests.delivery.support import (
    emit_event,
    hooked_tenant,
    invoke,
    jobs_of,
    make_due,
    runner_for,
)


async def test_receiver_down_for_a_while_then_back_gets_it_once(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:1")
    runner = runner_for(paused)
    receiver.down()
    for _ in range(3):
        await runner.run_due()
        await make_due(paused, hooked.context.id)
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "pending"
    assert job.attempts == 3
    assert "cannot reach the endpoint" in (job.last_error or "")

    receiver.up()
    await runner.run_due()
    await runner.run_due()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "done"
    [delivery] = receiver.accepted()
    assert delivery.body["data"] == {"key": "lead:1"}
    assert delivery.webhook_id == f"msg_{job.id.hex}"


async def test_5xx_is_retried_and_retry_after_is_honoured(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:2")
    runner = runner_for(paused)
    receiver.answer(Answer(503, {"Retry-After": "7200"}))
    before = utcnow()
    await runner.run_due()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "pending"
    assert job.run_at >= before + timedelta(seconds=7200)
    await runner.run_due()  # not due yet: nothing is sent
    assert len(receiver.deliveries) == 1

    await make_due(paused, hooked.context.id)
    await runner.run_due()
    assert [d.status for d in receiver.deliveries] == [503, 204]
    assert len(receiver.accepted()) == 1


async def test_a_429_waits_as_asked_and_does_not_trip_the_breaker(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:3")
    breaker = CircuitBreaker(threshold=1)
    runner = runner_for(paused, breaker=breaker)
    receiver.answer(Answer(429, {"Retry-After": "90"}), times=2)
    for _ in range(2):
        before = utcnow()
        await runner.run_due()
        [job] = await jobs_of(paused, hooked.context.id)
        assert job.status == "pending"
        assert job.run_at >= before + timedelta(seconds=90)
        assert "429" in (job.last_error or "")
        await make_due(paused, hooked.context.id)
    assert breaker.state((hooked.context.id, f"webhook:{hooked.endpoint_id}")) == "closed"
    await runner.run_due()
    assert [d.status for d in receiver.deliveries] == [429, 429, 204]


async def test_emitting_one_fact_twice_delivers_it_once(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:4")
    await emit_event(paused, hooked, "lead:4")
    assert len(await jobs_of(paused, hooked.context.id)) == 1
    await runner_for(paused).run_due()
    assert len(receiver.accepted()) == 1


async def test_only_subscribed_events_are_sent(paused: Runtime, receiver: Receiver) -> None:
    hooked = await hooked_tenant(paused, receiver, events=["lead.updated"])
    await emit_event(paused, hooked, "a", event="lead.created")
    await emit_event(paused, hooked, "b", event="lead.updated")
    await runner_for(paused).run_due()
    assert [d.type for d in receiver.accepted()] == ["lead.updated"]


async def test_a_runner_killed_mid_job_is_replaced_once_the_lease_ends(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:5")
    doomed = runner_for(paused, lease=timedelta(0))
    [claimed] = await doomed._claim()
    # It sends, then dies before marking the job done: its transaction never commits.
    async with paused.db.session() as session:
        bind_tenant(session, claimed.tenant_id)
        await paused.webhooks(session, claimed)
        await session.rollback()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "running"

    await runner_for(paused).run_due()  # the lease (shortened here) has run out
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "done"
    ids = [d.webhook_id for d in receiver.accepted()]
    assert ids == [f"msg_{job.id.hex}"] * 2  # at least once, with one id to dedupe on


async def test_the_breaker_opens_postpones_without_attempts_and_a_probe_closes_it(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    for n in range(5):
        await emit_event(paused, hooked, f"burst:{n}")
    now = [1000.0]
    metrics = Metrics()
    breaker = CircuitBreaker(
        threshold=3, cooldown=30, gauge=metrics.circuit_open, clock=lambda: now[0]
    )
    runner = runner_for(paused, breaker=breaker)
    key = (hooked.context.id, f"webhook:{hooked.endpoint_id}")

    def open_gauge() -> float | None:
        labels = {"tenant": str(hooked.context.id), "breaker": key[1]}
        return metrics.registry.get_sample_value("frontdesk_circuit_open", labels)

    receiver.answer(Answer(500), times=4)

    await runner.run_due()
    assert len(receiver.deliveries) == 3  # the fourth and fifth were not attempted
    assert breaker.state(key) == "open"
    assert open_gauge() == 1
    jobs = await jobs_of(paused, hooked.context.id)
    assert sorted(j.attempts for j in jobs) == [0, 0, 1, 1, 1]
    assert all(j.status == "pending" for j in jobs)

    await make_due(paused, hooked.context.id)
    await runner.run_due()  # still cooling down: postponed again, nothing sent
    assert len(receiver.deliveries) == 3

    now[0] += 31
    await make_due(paused, hooked.context.id)
    await runner.run_due()  # one probe, which fails: open again, for longer
    assert len(receiver.deliveries) == 4
    assert breaker.state(key) == "open"

    now[0] += 61
    await make_due(paused, hooked.context.id)
    await runner.run_due()  # the probe succeeds, the circuit closes, the rest follow
    assert breaker.state(key) == "closed"
    assert open_gauge() == 0
    assert sorted(d.body["data"]["key"] for d in receiver.accepted()) == [
        f"burst:{n}" for n in range(5)
    ]
    assert {j.status for j in await jobs_of(paused, hooked.context.id)} == {"done"}


def test_the_schedule_lasts_at_least_24_hours_whatever_the_draws() -> None:
    policy = WEBHOOK_POLICY
    assert policy.min_span() >= RETRY_FOR
    assert policy.min_span() < RETRY_FOR + timedelta(hours=1)  # and not needlessly longer
    assert policy.ceiling(60) == 3600  # never more than an hour between attempts
    shorter = type(policy)(
        max_attempts=policy.max_attempts - 1, base=policy.base, cap=policy.cap, floor=policy.floor
    )
    assert shorter.min_span() < RETRY_FOR  # the attempt count is the least that suffices
    rng = random.Random(7)
    for _ in range(200):
        random.seed(rng.random())
        total = sum((policy.delay(n) for n in range(1, policy.max_attempts)), start=timedelta(0))
        assert total >= RETRY_FOR


async def test_the_last_failure_dead_letters_and_jobs_retry_delivers_it(
    paused: Runtime, receiver: Receiver, cli_env: dict[str, str]
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:dead")
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.max_attempts == WEBHOOK_POLICY.max_attempts
    async with paused.db.session() as session, system_scope(session):
        await session.execute(
            update(OutboxJob).where(OutboxJob.id == job.id).values(attempts=job.max_attempts - 1)
        )
    receiver.answer(Answer(500))
    await runner_for(paused).run_due()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "dead"

    code, out, _ = await asyncio.to_thread(
        invoke, cli_env, "jobs", "list", "--dead", "--tenant", hooked.tenant.slug, "--json"
    )
    assert code == 0, out
    [listed] = json.loads(out)
    assert listed["id"] == str(job.id)
    assert listed["last_error"] == "DeliveryFailed: the endpoint answered 500"

    code, out, _ = await asyncio.to_thread(invoke, cli_env, "jobs", "retry", str(job.id))
    assert code == 0, out
    [job] = await jobs_of(paused, hooked.context.id)
    assert (job.status, job.attempts) == ("pending", 0)
    await runner_for(paused).run_due()
    assert [d.body["data"]["key"] for d in receiver.accepted()] == ["lead:dead"]


async def test_two_runners_on_their_own_engines_send_each_job_exactly_once(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    total = 60
    for n in range(total):
        await emit_event(paused, hooked, f"many:{n}")
    databases = [Database(paused.settings), Database(paused.settings)]
    runners = []
    for db in databases:
        runner = JobRunner(db, Metrics(), batch=5)
        sender = WebhookSender(paused.box, TenantContextStore(db), UrlGuard(allow_private=True))
        runner.register(sender.kind, sender, policy=sender.policy, breaker=sender.destination)
        runners.append(runner)

    async def drain(runner: JobRunner) -> int:
        ran = 0
        while n := await runner.run_due():
            ran += n
        return ran

    try:
        counts = await asyncio.gather(*(drain(r) for r in runners))
    finally:
        for db in databases:
            await db.dispose()
    assert sum(counts) == total
    ids = [d.webhook_id for d in receiver.accepted()]
    assert len(ids) == total
    assert len(set(ids)) == total
    jobs = await jobs_of(paused, hooked.context.id)
    assert {f"msg_{j.id.hex}" for j in jobs} == set(ids)
    assert {j.status for j in jobs} == {"done"}
    assert {j.attempts for j in jobs} == {1}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(302, {"Location": "http://127.0.0.1:1/elsewhere"}), "redirects are not followed"),
        (Answer(400), "the endpoint answered 400"),
    ],
)
async def test_redirects_and_client_errors_are_retried_a_few_times_then_dead(
    paused: Runtime, receiver: Receiver, answer: Answer, error: str
) -> None:
    from frontdesk.delivery.sender import CLIENT_ERROR_ATTEMPTS

    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:4xx")
    receiver.answer(answer, times=CLIENT_ERROR_ATTEMPTS)
    runner = runner_for(paused, breaker=CircuitBreaker(threshold=100))
    for _ in range(CLIENT_ERROR_ATTEMPTS):
        await runner.run_due()
        await make_due(paused, hooked.context.id)
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "dead"
    assert error in (job.last_error or "")
    assert len(receiver.deliveries) == CLIENT_ERROR_ATTEMPTS  # no redirect was followed


async def test_a_slow_receiver_times_out_and_is_retried(
    paused: Runtime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setattr(paused.webhooks, "timeouts", httpx.Timeout(0.2))
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:slow")
    receiver.answer(Answer(204, delay=1.0))
    runner = runner_for(paused)
    await runner.run_due()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "pending"
    assert "did not answer in time" in (job.last_error or "")


async def test_410_disables_the_endpoint_and_dead_letters_the_job(
    paused: Runtime, receiver: Receiver
) -> None:
    hooked = await hooked_tenant(paused, receiver)
    await emit_event(paused, hooked, "lead:gone")
    receiver.answer(Answer(410))
    await runner_for(paused).run_due()
    [job] = await jobs_of(paused, hooked.context.id)
    assert job.status == "dead"
    context = await paused.tenants.by_id(hooked.context.id)
    assert [e.enabled for e in context.webhooks] == [False]
    async with paused.db.session() as session:
        await webhooks.emit(session, context, "lead.created", {}, key="lead:after")
    assert len(await jobs_of(paused, hooked.context.id)) == 1  # nothing more is queued
