"""The async engine and the unit of work: one session per request or job, committed in one place."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from frontdesk.settings import Settings
from frontdesk.store.scope import ScopedSession
from frontdesk.store.sqlite import one_trip_dbapi


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # Let SQLAlchemy, not the driver, open transactions, so SAVEPOINTs and atomicity hold.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: another process waits (busy_timeout) instead of
    # failing when a read transaction later tries to write. It is sent with the transaction's
    # first statement, in one trip to the driver's thread (store/sqlite.py).
    connection.connection.dbapi_connection.begin_with_next("BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for ``url``; SQLite gets WAL and one connection, since its writers serialise."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, module=one_trip_dbapi(), pool_size=1, max_overflow=0, pool_timeout=60
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url
        self.engine = make_engine(self.url, pool_size=settings.db_pool_size)
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=ScopedSession
        )
        self.session_info: dict[str, Any] = {}
        """Put in every session's ``info``: the job runner's wakeup, the invalidation bus."""

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            session.info.update(self.session_info)
            try:
                yield session
                # A unit of work that never touched the database has nothing to commit:
                # skipping it saves a hop into SQLAlchemy's greenlet on every cache-only request.
                if session.in_transaction() or session.new or session.dirty or session.deleted:
                    await session.commit()
            except BaseException:
                session.info.pop("after_commit", None)
                await session.rollback()
                await self._run_detached(session)
                raise
            await run_after_commit(session)
            await self._run_detached(session)

    async def _run_detached(self, session: AsyncSession) -> None:
        """Units of work queued with ``detached``: each in its own session, after this one."""
        for work in session.info.pop("detached", []):
            try:
                async with self.session() as own:
                    await work(own)
            except Exception:
                structlog.get_logger("frontdesk.store").exception("store.detached_failed")

    async def dispose(self) -> None:
        await self.engine.dispose()


async def driver_connection(session: AsyncSession) -> Any:
    """The driver's own connection under the session's (asyncpg's on PostgreSQL), inside the
    session's transaction once one is open: for hot statements that skip SQLAlchemy's adapter."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def on_commit(session: AsyncSession, callback: Callable[[], Awaitable[None] | None]) -> None:
    """Run ``callback`` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(callback)


def detached(session: AsyncSession, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    """Run ``work`` in a unit of work of its own once this one ends, committed or not: for
    records that must survive the failure they describe (a refused credential's audit event)."""
    session.info.setdefault("detached", []).append(work)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        result = callback()
        if inspect.isawaitable(result):
            await result
