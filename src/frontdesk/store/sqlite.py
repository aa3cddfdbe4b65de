"""The embedded SQLite's driver adapter: one trip to the connection's thread per statement.

aiosqlite runs every call on its connection's own thread, and SQLAlchemy's stock adapter
makes four calls of each statement (open a cursor, execute, fetch the rows, close the
cursor): four hand-offs between threads, each costing more than the statement itself. This
adapter does the four in one hand-off; a transaction's ``BEGIN`` (``begin_with_next``) goes in
the trip of its first statement; and ``COMMIT`` or ``ROLLBACK`` with no transaction open (the
pool's reset of every connection it takes back) makes no trip, as sqlite3's own skip it then.
Everything else — the connection's thread, its lock, the errors raised, streaming cursors — is
SQLAlchemy's own (``sqlalchemy.dialects.sqlite.aiosqlite``). Statements sent on the driver's
connection directly, around this adapter, would miss a ``BEGIN`` still waiting.
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
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any], int, int | None]
"""What one statement gives back: its description, rows, row count and last row id."""


def _begun(
    connection: sqlite3.Connection,
    begin: str | None,
    function: Callable[[sqlite3.Connection, str, Any], Outcome],
    operation: str,
    parameters: Any,
) -> Outcome:
    """On the connection's thread: the transaction's ``begin`` if one waits, then ``function``."""
    if begin is not None:
        connection.execute(begin)
    return function(connection, operation, parameters)


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


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's streaming cursor, sending a waiting ``BEGIN`` before its statement."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        connection: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        connection.send_begin()
        return super().execute(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin",)

    _cursor_cls = OneTripCursor  # type: ignore[assignment]
    _ss_cursor_cls = _StreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None

    def begin_with_next(self, begin: str) -> None:
        """Open the transaction with ``begin`` in the trip of the next statement."""
        self._begin = begin

    async def run(self, function: Any, operation: Any, parameters: Any) -> Outcome:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        # aiosqlite's queue to its thread (its public calls each make a trip of their own).
        on_thread: Callable[..., Awaitable[Outcome]] = driver._execute
        begin, self._begin = self._begin, None
        async with self._execute_mutex:
            return await on_thread(_begun, driver._conn, begin, function, operation, parameters)

    def send_begin(self) -> None:
        """Send a waiting ``BEGIN`` now, in a trip of its own."""
        if self._begin is not None:
            begin, self._begin = self._begin, None
            await_(self.run(_run, begin, None))

    def commit(self) -> None:
        self._begin = None
        if self._open():
            super().commit()

    def rollback(self) -> None:
        self._begin = None
        if self._open():
            super().rollback()

    def _open(self) -> bool:
        """Whether a transaction is open, or the connection closed (the stock calls then say
        so). Read across threads: nothing runs on the connection between SQLAlchemy's calls."""
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return driver._connection is None or driver._conn.in_transaction


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DB-API as SQLAlchemy adapts it, with ``OneTripConnection``s."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The ``module`` to hand ``create_async_engine`` for an ``sqlite+aiosqlite`` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
