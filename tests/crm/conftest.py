from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.crm.hubspot import HubSpotClient
from frontdesk.runtime import Runtime
from tests.channels.conftest import graph
from tests.crm.fake_hubspot import FakeHubSpot, HubSpotServer
from tests.delivery.conftest import cli_env, local_hooks, receiver

__all__ = ["cli_env", "graph", "local_hooks", "receiver"]  # other suites' fixtures, shared

TIMEOUT = 1.0
"""Our client's timeout against the fake (a scripted slow answer outlasts it)."""


@pytest.fixture
async def hubspot(runtime: Runtime) -> AsyncIterator[FakeHubSpot]:
    """The fake HubSpot, with the runtime's CRM pushes pointed at it."""
    with HubSpotServer() as server:
        previous, runtime.crm.client = (
            runtime.crm.client,
            HubSpotClient(server.url, timeout=TIMEOUT),
        )
        try:
            yield server.hubspot
        finally:
            await runtime.crm.client.close()
            runtime.crm.client = previous
