from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.llm.servers import FakeLLMServer


@pytest.fixture(scope="session")
def llm_server_session() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(llm_server_session: FakeLLMServer) -> FakeLLMServer:
    llm_server_session.reset()
    return llm_server_session
