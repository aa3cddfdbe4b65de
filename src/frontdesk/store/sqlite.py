"""The embedded SQLite's driver adapter: one trip to the connection's thread per statement.

aiosqlite runs every call on its connection's own thread, and SQLAlchemy's stock adapter
makes four calls of each statement (open a cursor, execute, fetch the rows, close the
cursor): four hand-offs between threads, each costing more than the statement itself. This
adapter does the four in one hand-off, and skips the pool's reset ``ROLLBACK`` of a connection
with no transaction open (the driver's own ``rollback`` does nothing then either). Everything
else — the connection's thread, its lock, the errors raised, streaming cursors — is
SQLAlchemy's own (``sqlalchemy.dialects.sqlite.aiosqlite``).
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any], int, int | None]
"""What one statement gives back: its description, rows, row count and last row id."""


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    """On the connection's thread: the statement executed, its rows read, its cursor closed."""
    cursor = connection.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        # After the fetch: a statement with RETURNING counts its rows as they are read.
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, operation: str, parameters: Any) -> Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return None, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """A DB-API cursor whose statement runs, and whose rows are read, in one hand-off."""

    server_side = False
    __slots__ = ("_adapt_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapt_connection: OneTripConnection) -> None:
        self._adapt_connection = adapt_connection
        self._rows: deque[Any] = deque()
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._call(_run, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._call(_run_many, operation, seq_of_parameters)

    def _call(self, function: Any, operation: Any, parameters: Any) -> None:
        try:
            self.description, rows, self.rowcount, self.lastrowid = await_(
                self._adapt_connection.run(function, operation, parameters)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._rows = deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing stays open on the driver's side (SQLAlchemy's async results call this)."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    async def run(self, function: Any, operation: Any, parameters: Any) -> Outcome:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        # aiosqlite's queue to its thread (its public calls each make a trip of their own).
        on_thread: Callable[..., Awaitable[Outcome]] = driver._execute
        async with self._execute_mutex:
            return await on_thread(function, driver._conn, operation, parameters)

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back; with no transaction open that
        # is a hand-off for nothing (sqlite3's rollback checks the same flag and returns).
        # The flag is read across threads: nothing runs on the connection between calls.
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        if driver._connection is not None and not driver._conn.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DB-API as SQLAlchemy adapts it, with ``OneTripConnection``s."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The ``module`` to hand ``create_async_engine`` for an ``sqlite+aiosqlite`` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
