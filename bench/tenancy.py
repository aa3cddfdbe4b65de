"""Tenancy benchmark: tenant resolution (cache hit and miss) and a tenant-scoped read with
row-level security on and off, on PostgreSQL, in the same run.

The scoped read is the web chat's history read (the 50 latest messages of a conversation of one
tenant, through the repositories, in its own unit of work). "On" runs it as the application's role,
which row-level security applies to; "off" runs the very same code as the tables' owner (a
superuser, which PostgreSQL exempts from the policies). Rounds alternate; medians are compared.

    python -m bench.tenancy --seconds 2 --rounds 5 --update-docs
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from frontdesk.conversations import service as conversations
from frontdesk.realtime.hub import Hub
from frontdesk.settings import Settings
from frontdesk.store import migrate
from frontdesk.store.db import Database, make_engine
from frontdesk.store.roles import grant_app_role
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, to_context
from frontdesk.tenancy.store import TenantContextStore

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- tenancy:start -->", "<!-- tenancy:end -->"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "frontdesk_app"
MESSAGES = 200
console = Console()


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _seed(db: Database) -> tuple[Any, Any]:
    """Two tenants, each with one conversation of ``MESSAGES`` messages."""
    hub = Hub()
    first = None
    for slug in ("bench-a", "bench-b"):
        async with db.session() as session:
            tenant = to_context(
                await create_tenant(session, TenantCreate(slug=slug, name=slug), actor="bench")
            )
            chat = await conversations.start_web_conversation(session, tenant, contact_id=None)
            for n in range(MESSAGES):
                await conversations.receive(
                    session,
                    tenant,
                    chat.conversation,
                    text=f"mensaje {n}",
                    external_id=None,
                    events=hub,
                )
        if first is None:
            first = (tenant, chat.conversation.id)
    assert first is not None
    return first


async def _rate(operation: Callable[[], Awaitable[object]], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        await operation()
        count += 1
    return count / elapsed


async def main(seconds: float, rounds: int) -> dict[str, Any]:
    name = f"frontdesk_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    owner_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    app_url = owner_url.replace("://postgres@", f"://{APP_ROLE}@")
    try:
        await asyncio.to_thread(migrate.upgrade, owner_url)
        await _admin(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
            f"THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
        )
        engine = make_engine(owner_url)
        await grant_app_role(engine, APP_ROLE)
        await engine.dispose()
        on = Database(Settings(database_url=app_url, _env_file=None))  # type: ignore[call-arg]
        off = Database(Settings(database_url=owner_url, _env_file=None))  # type: ignore[call-arg]
        tenant, conversation_id = await _seed(on)
        store = TenantContextStore(on)

        async def hit() -> object:
            return await store.by_slug("bench-a")

        async def miss() -> object:
            store.invalidate("bench-a")
            return await store.by_slug("bench-a")

        def scoped(db: Database) -> Callable[[], Awaitable[object]]:
            async def read() -> object:
                async with db.session() as session:
                    conversation = await conversations.get_conversation(
                        session, tenant, conversation_id
                    )
                    rows = await conversations.history(
                        session, tenant, conversation, after_seq=MESSAGES - 50, limit=50
                    )
                    assert len(rows) == 50
                    return rows

            return read

        cases = {
            "resolution, cache hit": hit,
            "resolution, cache miss": miss,
            "scoped read, RLS on": scoped(on),
            "scoped read, RLS off": scoped(off),
        }
        results: dict[str, list[float]] = {case: [] for case in cases}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("measuring", total=rounds * len(cases))
            for round_ in range(rounds):
                order = list(cases) if round_ % 2 == 0 else list(reversed(cases))
                for case in order:
                    await cases[case]()
                    results[case].append(await _rate(cases[case], seconds))
                    progress.advance(task)
        await on.dispose()
        await off.dispose()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    medians = {case: statistics.median(values) for case, values in results.items()}
    return {
        "medians": medians,
        "hit_vs_miss": medians["resolution, cache hit"] / medians["resolution, cache miss"],
        "rls_cost": 1 - medians["scoped read, RLS on"] / medians["scoped read, RLS off"],
        "rounds": rounds,
        "seconds": seconds,
    }


def markdown(report: dict[str, Any], command: str) -> str:
    rows = "\n".join(
        f"| {case} | {rate:,.0f} | {1e6 / rate:,.1f} |" for case, rate in report["medians"].items()
    )
    verdict = "met" if report["rls_cost"] <= 0.10 else "NOT met"
    return (
        f"{START}\n"
        f"Command: `{command}` (PostgreSQL on this machine, one process, median of "
        f"{report['rounds']} alternating rounds of {report['seconds']:g} s).\n\n"
        "| operation | per s | µs each |\n|---|---:|---:|\n"
        f"{rows}\n\n"
        f"A cache hit is **{report['hit_vs_miss']:,.0f}×** faster than a miss. Row-level security "
        f"costs **{report['rls_cost']:.1%}** on the scoped read (goal ≤ 10%: {verdict}).\n"
        f"{END}"
    )


def update_docs(block: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = (
            text.rstrip() + "\n\n## Tenancy: resolution and row-level security\n\n" + block + "\n"
        )
    DOCS.write_text(text, encoding="utf-8")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main(args.seconds, args.rounds))
    table = Table("operation", "per s", "µs each")
    for case, rate in report["medians"].items():
        table.add_row(case, f"{rate:,.0f}", f"{1e6 / rate:,.1f}")
    console.print(table)
    console.print(
        f"cache hit / miss: {report['hit_vs_miss']:,.0f}×; RLS cost on the scoped read: "
        f"{report['rls_cost']:.1%} (goal ≤ 10%)"
    )
    if args.update_docs:
        command = (
            f"python -m bench.tenancy --seconds {args.seconds:g} --rounds {args.rounds} "
            "--update-docs"
        )
        update_docs(markdown(report, command))


if __name__ == "__main__":
    cli()
