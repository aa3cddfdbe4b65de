"""What every command shares: settings, a database opened at the migrations' head, errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from frontdesk.engine.packs import PackError
from frontdesk.errors import FrontDeskError
from frontdesk.settings import Settings
from frontdesk.store import migrate
from frontdesk.store.db import Database

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit code 2: how every command refuses bad input."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:
        fail(f"invalid settings: {exc}".splitlines()[0])


def run_db(work: Callable[[Database], Awaitable[T]], *, settings_: Settings | None = None) -> T:
    """Run ``work`` against the configured database, migrated first when it is the embedded one."""
    config = settings_ or settings()
    if config.is_sqlite:
        migrate.upgrade(config.owner_database_url)

    async def main() -> T:
        db = Database(config)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except (FrontDeskError, PackError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"database error: {reason}")
