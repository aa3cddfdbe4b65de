"""Webhook test fixtures: a receiver, local URLs allowed, and a way to hold the app's runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from frontdesk.runtime import Runtime
from frontdesk.settings import Settings
from tests.delivery.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def local_hooks(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The app's runtime with local webhook URLs allowed (the development setting)."""
    monkeypatch.setattr(runtime.webhooks.guard, "allow_private", True)
    return runtime


@pytest.fixture
async def held(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The app's job runner stopped for the test, so the test runs jobs itself."""
    await runtime.jobs.stop()
    try:
        yield runtime
    finally:
        runtime.jobs.start()


@pytest.fixture
def paused(held: Runtime, local_hooks: Runtime) -> Runtime:
    """Jobs run by the test, local webhook URLs allowed."""
    return held


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """The CLI's environment, on the app's database and instance key."""
    assert settings.secret_key is not None
    return {
        "FRONTDESK_DATA_DIR": str(settings.data_dir),
        "FRONTDESK_DATABASE_URL": settings.resolved_database_url,
        "FRONTDESK_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
