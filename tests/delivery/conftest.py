"""Webhook test fixtures: a receiver, local URLs allowed, and a way to hold the app's runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from frontdesk.runtime import Runtime
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
async def paused(local_hooks: Runtime) -> AsyncIterator[Runtime]:
    """The app's job runner stopped for the test, so the test runs jobs itself."""
    await local_hooks.jobs.stop()
    try:
        yield local_hooks
    finally:
        local_hooks.jobs.start()
