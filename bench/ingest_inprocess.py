"""The WhatsApp webhook route driven in process: the ASGI app called directly, no sockets.

Where :mod:`bench.ingest` measures whole servers under load, this calls the real app (as
``frontdesk serve`` builds it, on a fresh PostgreSQL database, connected as the app's role under
row-level security) directly on one event loop with ``--inflight`` notifications in flight, and
reports the CPU time this process spends per stored notification, and the bare route's
(:data:`bench.ingest_app.bare`) for the same notifications: the figures to watch while changing
the inbound path, little disturbed by other work on a shared machine (PostgreSQL's own CPU time
is not in them). ``--profile`` prints a cProfile of one measured run instead.

    python -m bench.ingest_inprocess --requests 3000 --inflight 64 --repeats 3
    python -m bench.ingest_inprocess --profile --sort tottime
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import os
import pstats
import secrets
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import uvloop

from bench.ingest import (
    DEFAULT_POSTGRES,
    LIMIT_PER_MINUTE,
    PATH,
    Notifications,
    analyze,
    fresh_database,
)
from bench.pipeline_inprocess import Sample, _call


async def _measure(
    app: Any, notifications: Notifications, requests: int, inflight: int, start: int
) -> tuple[float, float]:
    """CPU µs and wall-clock µs per notification, ``inflight`` of them at a time."""
    numbers = itertools.count(start)
    now = int(time.time())

    async def worker(lane: int) -> None:
        for _ in range(requests // inflight):
            body = notifications.body(lane, next(numbers), now)
            status = await _call(app, Sample(PATH, notifications.headers(body), body), PATH)
            if status != 200:
                raise SystemExit(f"{PATH} answered {status}")

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(lane) for lane in range(inflight)))
    done = requests // inflight * inflight
    return (
        (time.process_time() - cpu) / done * 1e6,
        (time.perf_counter() - wall) / done * 1e6,
    )


async def _first_contacts(app: Any, notifications: Notifications, inflight: int) -> None:
    """One notification from each sender, ``inflight`` at a time."""
    now = int(time.time())

    async def worker(lane: int) -> None:
        for customer in range(lane, notifications.contacts, inflight):
            body = notifications.first_contact(customer, now)
            status = await _call(app, Sample(PATH, notifications.headers(body), body), PATH)
            if status != 200:
                raise SystemExit(f"{PATH} answered {status}")

    await asyncio.gather(*(worker(lane) for lane in range(inflight)))


async def run(args: argparse.Namespace, owner_url: str, app_url: str) -> None:
    from bench.ingest_app import bare, prepare
    from frontdesk.app import create_app
    from frontdesk.observability.logging import configure_logging
    from frontdesk.settings import Settings

    with tempfile.TemporaryDirectory(prefix="frontdesk-ingest-") as tmp:
        os.environ.update(
            FRONTDESK_DATA_DIR=tmp,
            FRONTDESK_DATABASE_URL=app_url,
            FRONTDESK_DB_POOL_SIZE=str(args.pool),
            FRONTDESK_LOG_LEVEL="warning",
            FRONTDESK_SEED_OWNER="false",
            FRONTDESK_RUN_JOBS="false",
            FRONTDESK_IP_FLOOD_PER_MINUTE=str(LIMIT_PER_MINUTE),
            FRONTDESK_SECRET_KEY=secrets.token_hex(32),
        )
        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        tenant = await prepare(settings)
        notifications = Notifications(
            tenant["phone_number_id"], tenant["app_secret"], args.contacts, secrets.token_hex(3)
        )
        app = create_app(settings)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)
            batches = itertools.count(1)
            # Warm-up: every contact writes once (its contact and conversation made), then
            # more, so that statements are prepared; then the planner's statistics, as
            # autovacuum keeps them on a live database.
            await _first_contacts(app, notifications, args.inflight)
            await _measure(app, notifications, max(args.contacts, 500), args.inflight, 0)
            await analyze(owner_url)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await _measure(
                    app, notifications, args.requests, args.inflight, next(batches) * 10**7
                )
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
                return
            for _ in range(args.repeats):
                base, _ = await _measure(
                    bare, notifications, args.requests, args.inflight, next(batches) * 10**7
                )
                cpu, wall = await _measure(
                    app, notifications, args.requests, args.inflight, next(batches) * 10**7
                )
                print(
                    f"{args.inflight} in flight: {cpu:7.1f} µs CPU, {wall:7.1f} µs wall "
                    f"per notification ({1e6 / wall:,.0f}/s); the bare route {base:5.1f} µs "
                    f"CPU: {base / cpu:.2f}× by CPU",
                    flush=True,
                )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_inprocess")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)
    if min(args.requests, args.inflight, args.repeats, args.contacts, args.pool) < 1:
        parser.error("--requests, --inflight, --repeats, --contacts, --pool >= 1")
    with fresh_database(args.postgres) as (owner_url, app_url):
        uvloop.run(run(args, owner_url, app_url))


if __name__ == "__main__":
    main()
