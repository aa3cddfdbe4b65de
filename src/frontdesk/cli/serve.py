"""``frontdesk serve``, ``frontdesk worker`` and ``frontdesk migrate``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import Annotated

import typer
import uvicorn

from frontdesk.cli.common import err, fail, out, settings
from frontdesk.observability.logging import configure_logging
from frontdesk.settings import Settings
from frontdesk.store import migrate as migrations
from frontdesk.store.db import make_engine
from frontdesk.store.roles import grant_app_role


def migrate(
    grant_role: Annotated[
        str | None,
        typer.Option(help="PostgreSQL: give this role (the app's, not the owner) the tables."),
    ] = None,
) -> None:
    """Bring the database to the newest schema (as the owner of the tables)."""
    config = settings()
    try:
        migrations.upgrade(config.owner_database_url)
        if grant_role:
            if config.is_sqlite:
                fail("--grant-role is for PostgreSQL")
            asyncio.run(_grant(config.owner_database_url, grant_role))
    except (OSError, ValueError) as exc:
        fail(str(exc).splitlines()[0])
    out.print(f"database at revision {migrations.head_revision()}")


async def _grant(url: str, role: str) -> None:
    engine = make_engine(url)
    try:
        await grant_app_role(engine, role)
    finally:
        await engine.dispose()


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (FRONTDESK_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (FRONTDESK_PORT).")
    ] = None,
    migrate_db: Annotated[
        bool | None,
        typer.Option("--migrate/--no-migrate", help="Migrate first (default: yes on SQLite)."),
    ] = None,
) -> None:
    """Run the server (migrating the embedded database first)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    config = settings().model_copy(update=overrides)
    configure_logging(config.log_level, config.log_format)
    if migrate_db if migrate_db is not None else config.is_sqlite:
        try:
            migrations.upgrade(config.owner_database_url)
        except OSError as exc:
            fail(f"cannot reach the database: {exc}")
    from frontdesk.app import create_app

    app = create_app(config)
    err.print(f"Front Desk is running at http://{config.host}:{config.port}/", highlight=False)
    # Objects made at start-up live for the whole process: keep them out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


def worker(
    migrate_db: Annotated[
        bool | None,
        typer.Option("--migrate/--no-migrate", help="Migrate first (default: yes on SQLite)."),
    ] = None,
) -> None:
    """Run the background jobs only (the engine's decisions, deliveries, webhooks, retention),
    beside web processes started with FRONTDESK_RUN_JOBS=false; several may run at once."""
    config = settings().model_copy(update={"run_jobs": True})
    configure_logging(config.log_level, config.log_format)
    if migrate_db if migrate_db is not None else config.is_sqlite:
        try:
            migrations.upgrade(config.owner_database_url)
        except OSError as exc:
            fail(f"cannot reach the database: {exc}")
    err.print("Front Desk worker is running (Ctrl-C to stop)", highlight=False)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(config))


async def run_worker(config: Settings, stop: asyncio.Event | None = None) -> None:
    """Start a runtime with its job runner and no HTTP; run until ``stop`` is set or the
    process is asked to end (SIGINT, SIGTERM)."""
    from frontdesk.runtime import build_runtime
    from frontdesk.tenancy.owner import ensure_owner

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    runtime = build_runtime(config)
    try:
        if config.seed_owner:
            await ensure_owner(runtime.db, config)
        await runtime.start()
        await stop.wait()
    finally:
        await runtime.stop()
        for sig in handled:
            loop.remove_signal_handler(sig)
