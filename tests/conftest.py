"""Test fixtures: the real app on a real database, SQLite always and PostgreSQL when reachable.

In CI (``CI=true``) an unreachable PostgreSQL or Redis fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from frontdesk.app import create_app
from frontdesk.observability.logging import configure_logging
from frontdesk.runtime import Runtime, build_runtime
from frontdesk.settings import Settings
from frontdesk.store import migrate
from frontdesk.store.roles import grant_app_role
from frontdesk.tenancy.owner import ensure_owner
from tests.servers import ThreadedServer, free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "FRONTDESK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
configure_logging("warning", "console")

REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    """Skip where a service is absent, but fail in CI, where it must be present."""
    if reachable(url):
        return
    message = f"{what} is not reachable at {urlsplit(url).netloc}"
    if IN_CI:
        pytest.fail(f"{message} (required in CI)")
    pytest.skip(message)


APP_ROLE = "frontdesk_app"


async def _app_role(owner_url: str) -> None:
    await _admin(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
        f"THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"
    )
    engine = create_async_engine(owner_url)
    try:
        await grant_app_role(engine, APP_ROLE)
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A new database of ``backend``, migrated with Alembic, dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'frontdesk.db'}"
        migrate.upgrade(url)
        yield url
        return
    require(POSTGRES_URL, "PostgreSQL")
    name = f"frontdesk_test_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        owner_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        migrate.upgrade(owner_url)
        asyncio.run(_app_role(owner_url))
        # The app connects as a role that neither owns the tables nor bypasses RLS.
        yield owner_url.replace("://postgres@", f"://{APP_ROLE}@", 1)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database per backend for the whole session."""
    with fresh_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-instance-key-" + "x" * 32,
        job_poll_seconds=0.05,
        sse_ping_seconds=1,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings)
    await ensure_owner(rt.db, settings)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture(scope="session")
def app(settings: Settings, runtime: Runtime) -> FastAPI:
    return create_app(settings, runtime=runtime)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class LiveServer(ThreadedServer):
    """A real Front Desk server on a free port, in its own thread and event loop."""

    def __init__(self, settings: Settings) -> None:
        port = free_port()
        self.settings = settings.model_copy(update={"port": port})
        super().__init__(create_app(self.settings), port=port, lifespan="on")

    @property
    def url(self) -> str:
        return self.origin


@pytest.fixture
def live_server(backend: str, settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """A server process of its own, on a database of its own (its jobs and streams are its own)."""
    with fresh_database(backend, tmp_path) as url:
        own = settings.model_copy(update={"database_url": url, "data_dir": tmp_path})
        with LiveServer(own) as server:
            yield server


@pytest.fixture
def redis_url() -> str:
    require(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    return tmp_path
