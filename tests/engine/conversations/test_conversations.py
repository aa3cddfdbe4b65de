"""The conversation suite: scripted multi-turn conversations over HTTP through the web chat."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from frontdesk.runtime import Runtime
from tests.engine.conversations.harness import Script, run
from tests.engine.conversations.scripts import SCRIPTS


@pytest.fixture
def clock(runtime: Runtime) -> Iterator[None]:
    original = runtime.engine.clock
    yield
    runtime.engine.clock = original


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
async def test_conversation(
    script: Script, runtime: Runtime, client: httpx.AsyncClient, clock: None
) -> None:
    runtime.engine.clock = lambda: script.at
    outcome = await run(runtime, client, script)
    decisions = list(outcome.decisions())
    if script.lead is not None:
        made = any("create_or_update_lead" in d["actions"] for d in decisions)
        assert made is script.lead, [d["score"] for d in decisions]


def test_the_suite_is_large_and_bilingual() -> None:
    assert len(SCRIPTS) >= 30
    assert {script.language for script in SCRIPTS} == {"es", "en"}
    assert len({script.name for script in SCRIPTS}) == len(SCRIPTS)
