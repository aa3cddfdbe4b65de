"""The decision engine in process: a customer message in, its reply stored.

Every message of the conversation suite (``tests/engine/conversations/scripts.py``) is played,
conversation by conversation, against an embedded SQLite database: the inbound message is
stored as the web chat stores it (``conversations.receive``, committed), then the
``engine.decide`` job runs — classifier, score, router, agent, the ``grounded`` provider, the
guard, the reply and its actions stored — and commits. The baseline, measured in the same run,
does the same with a canned reply stored instead of the engine's. Reported: p50/p99 of each,
in milliseconds, the engine's cost over the baseline, and the SQL statements each decide job
sends (a count the machine's load cannot blur).

    python -m bench.engine --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from tests.engine.conversations.scripts import SCRIPTS

from frontdesk.conversations import service as conversations
from frontdesk.delivery.models import OutboxJob
from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.engine.reply import Reply
from frontdesk.engine.tasks import make_decide
from frontdesk.observability.logging import configure_logging
from frontdesk.runtime import Runtime, build_runtime
from frontdesk.settings import Settings
from frontdesk.store import migrate
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, to_context

OPEN_HOURS = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
CANNED = Reply(text="Gracias por escribirnos, te respondemos enseguida.", language="es")
Decide = Callable[[AsyncSession, OutboxJob], Awaitable[None]]
Timings = list[tuple[float, float, float]]


class StatementCounter:
    """Counts the statements an engine sends to the database (``before_cursor_execute``)."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, *_: Any) -> None:
        self.sent += 1


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def _tenant(rt: Runtime, slug: str) -> TenantContext:
    async with rt.db.session() as session:
        row = await create_tenant(
            session,
            TenantCreate(slug=slug, name=slug),
            actor="bench",
            pack=load_pack(default_pack_dir()),
        )
        return to_context(row)


def _canned(rt: Runtime) -> Decide:
    async def decide(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await rt.tenants.by_id(job.tenant_id, session=session)
        conversation = await conversations.get_conversation(
            session,
            tenant,
            uuid.UUID(job.payload["conversation_id"]),
        )
        message = await conversations.get_message(
            session,
            tenant,
            uuid.UUID(job.payload["message_id"]),
        )
        await conversations.append_reply(
            session,
            tenant,
            conversation,
            CANNED,
            in_reply_to=message,
            events=rt.hub,
            deliver=False,
        )

    return decide


async def _play(
    rt: Runtime,
    tenant: TenantContext,
    decide: Decide,
    counter: StatementCounter | None = None,
    statements: list[int] | None = None,
) -> Timings:
    """Every scripted conversation once; for each message the milliseconds from the message in
    to its reply stored (wall clock and this process's CPU time), and of the decide job alone
    (wall clock). With a ``counter``, each decide job's statement count goes to
    ``statements``."""
    timings: Timings = []
    for script in SCRIPTS:
        async with rt.db.session() as session:
            started = await conversations.start_web_conversation(session, tenant, contact_id=None)
            conversation_id = started.conversation.id
        for turn in script.turns:
            begin, cpu = time.perf_counter(), time.process_time()
            async with rt.db.session() as session:
                conversation = await conversations.get_conversation(
                    session, tenant, conversation_id
                )
                received = await conversations.receive(
                    session, tenant, conversation, text=turn.text, external_id=None, events=rt.hub
                )
                job = OutboxJob(
                    tenant_id=tenant.id,
                    kind="engine.decide",
                    payload={
                        "conversation_id": str(conversation_id),
                        "message_id": str(received.message.id),
                    },
                )
            sent = counter.sent if counter else 0
            decided = time.perf_counter()
            async with rt.db.session() as session:
                await decide(session, job)
            end = time.perf_counter()
            if counter is not None and statements is not None:
                statements.append(counter.sent - sent)
            used = time.process_time() - cpu
            timings.append(((end - begin) * 1000, used * 1000, (end - decided) * 1000))
    return timings


async def measure(
    url: str, tmp: str, rounds: int
) -> tuple[dict[str, Timings], dict[str, list[int]]]:
    """The timings of ``rounds`` plays of the suite, engine and baseline, on a migrated
    database at ``url``, and the statements of each decide job in one more play of each."""
    settings = Settings(
        database_url=url,
        data_dir=Path(tmp),
        secret_key=SecretStr("bench-instance-key-" + "x" * 32),
        _env_file=None,
    )
    rt = build_runtime(settings)
    rt.engine.clock = lambda: OPEN_HOURS
    engine = make_decide(rt.tenants, rt.engine, rt.hub, needs_delivery=lambda _: False)
    canned = _canned(rt)
    tenant = await _tenant(rt, "bench-engine")
    baseline_tenant = await _tenant(rt, "bench-canned")
    # Warm up: the classifier, the pack's indexes, the tenant cache.
    await _play(rt, tenant, engine)
    await _play(rt, baseline_tenant, canned)
    gc.collect()
    gc.freeze()
    results: dict[str, Timings] = {"engine": [], "baseline": []}
    for _ in range(rounds):
        results["baseline"] += await _play(rt, baseline_tenant, canned)
        results["engine"] += await _play(rt, tenant, engine)
    gc.unfreeze()
    # Counted apart from the timed rounds, so the listener costs them nothing.
    counter = StatementCounter()
    event.listen(rt.db.engine.sync_engine, "before_cursor_execute", counter)
    statements: dict[str, list[int]] = {"engine": [], "baseline": []}
    await _play(rt, baseline_tenant, canned, counter, statements["baseline"])
    await _play(rt, tenant, engine, counter, statements["engine"])
    event.remove(rt.db.engine.sync_engine, "before_cursor_execute", counter)
    await rt.db.dispose()
    return results, statements


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        results, statements = asyncio.run(measure(url, tmp, rounds))
    report(results, rounds)
    for name in ("baseline", "engine"):
        counts = statements[name]
        print(
            f"{name}: SQL statements per decide job, p50 "
            f"{percentile([float(n) for n in counts], 0.5):g}, max {max(counts)} "
            "(COMMIT not counted; BEGIN is sent with the first statement)"
        )


def report(results: dict[str, Timings], rounds: int) -> None:
    """The results as a Markdown table (see the module docstring)."""
    print(f"messages: {len(results['engine'])} per path ({rounds} rounds of the suite)")
    print(
        "| path | message in → reply stored, wall p50 / p99 ms | same, CPU p50 / p99 ms "
        "| decide job, wall p50 / p99 ms |"
    )
    print("|---|---|---|---|")
    medians: dict[str, list[float]] = {}
    for name in ("baseline", "engine"):
        columns = list(zip(*results[name], strict=True))
        medians[name] = [percentile(list(column), 0.5) for column in columns]
        cells = " | ".join(
            f"{percentile(list(column), 0.5):.2f} / {percentile(list(column), 0.99):.2f}"
            for column in columns
        )
        print(f"| {name} | {cells} |")
    wall = medians["engine"][0] / medians["baseline"][0]
    cpu = medians["engine"][1] / medians["baseline"][1]
    own = medians["engine"][2] - medians["baseline"][2]
    print(f"\nengine / baseline at p50, message in → reply stored: wall {wall:.2f}, CPU {cpu:.2f}")
    print(f"the engine's own time at p50 (decide job minus the canned one): {own:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    configure_logging("warning", "console")
    main(arguments.rounds)
