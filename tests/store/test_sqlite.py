"""The embedded SQLite's adapter: one trip to the driver's thread per statement, nothing else
changed (rows, counts, errors, transactions, streaming)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from frontdesk.store.db import make_engine


class Trips:
    """Counts the calls aiosqlite hands to its connection's thread."""

    def __init__(self) -> None:
        self.made = 0


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    counted = Trips()
    hand_off: Callable[..., Awaitable[Any]] = aiosqlite.core.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted.made += 1
        return await hand_off(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counting)
    return counted


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'adapter.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def test_a_statement_is_one_trip_and_a_transaction_adds_only_its_commit(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.begin() as connection:
        trips.made = 0
        inserted = await connection.execute(
            text("INSERT INTO t (v) VALUES ('a'), ('b') RETURNING id")
        )
        assert sorted(inserted.scalars().all()) == [1, 2]
        assert trips.made == 1  # its BEGIN with it
        assert await _in_transaction(connection)
        updated = await connection.execute(text("UPDATE t SET v = v || '!'"))
        assert updated.rowcount == 2
        assert trips.made == 2
    # The COMMIT, and no reset ROLLBACK of the connection handed back to the pool.
    assert trips.made == 3
    async with engine.connect() as connection:
        trips.made = 0
        rows = (await connection.execute(text("SELECT v FROM t ORDER BY id"))).all()
        assert [row.v for row in rows] == ["a!", "b!"]
    # The SELECT with its BEGIN, and the ROLLBACK of the read transaction left open.
    assert trips.made == 2


async def test_a_transaction_without_statements_makes_no_trip(
    engine: AsyncEngine, trips: Trips
) -> None:
    async with engine.begin() as connection:
        trips.made = 0
        assert not await _in_transaction(connection)
    assert trips.made == 0


async def _in_transaction(connection: AsyncConnection) -> bool:
    raw = await connection.get_raw_connection()
    return bool(raw.driver_connection._conn.in_transaction)  # type: ignore[union-attr]


async def test_returning_counts_its_rows_and_executemany_counts_all(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x"}, {"v": "y"}])
        result = await connection.execute(text("DELETE FROM t RETURNING v"))
        assert sorted(result.scalars().all()) == ["x", "y"]
        assert result.rowcount == 2


async def test_errors_are_the_drivers_and_roll_the_transaction_back(engine: AsyncEngine) -> None:
    async def twice() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (v) VALUES ('same')"))
            await connection.execute(text("INSERT INTO t (v) VALUES ('same')"))

    with pytest.raises(IntegrityError):
        await twice()
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_streaming_reads_still_work_inside_their_transaction(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('1'), ('2'), ('3')"))
    async with engine.connect() as connection:
        result = await connection.stream(text("SELECT v FROM t ORDER BY id"))
        assert [row.v async for row in result] == ["1", "2", "3"]
        assert await _in_transaction(connection)
