from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
from frontdesk.channels.whatsapp.client import GraphClient
from frontdesk.runtime import Runtime
from tests.channels.fake_graph import FakeGraph, GraphServer


@pytest.fixture
async def graph(runtime: Runtime) -> AsyncIterator[FakeGraph]:
    """The fake Graph API, with the runtime's WhatsApp adapter pointed at it."""
    adapter = runtime.channels.get("whatsapp")
    assert isinstance(adapter, WhatsAppAdapter)
    with GraphServer() as server:
        previous, adapter.graph = adapter.graph, GraphClient(server.url)
        try:
            yield server.graph
        finally:
            await adapter.graph.close()
            adapter.graph = previous
