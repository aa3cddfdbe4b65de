"""The engine benchmark, run for one round: every scripted message gets a time on both paths,
and each decide job its statement count."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.engine import measure, percentile

from frontdesk.store import migrate
from tests.engine.conversations.scripts import SCRIPTS


def test_one_round_times_every_message(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}"
    migrate.upgrade(url)
    results, statements = asyncio.run(measure(url, str(tmp_path), 1))
    messages = sum(len(script.turns) for script in SCRIPTS)
    assert {name: len(samples) for name, samples in results.items()} == {
        "engine": messages,
        "baseline": messages,
    }
    for samples in results.values():
        assert all(wall >= job > 0 and cpu > 0 for wall, cpu, job in samples)
    assert {name: len(counts) for name, counts in statements.items()} == {
        "engine": messages,
        "baseline": messages,
    }
    # Every decide job was counted: it reads the conversation at least (a silent turn, a
    # person's conversation, stores nothing).
    assert all(count > 0 for counts in statements.values() for count in counts)
    # A turn touching no lead: the conversation, its recent messages, the reply's number, the
    # reply and (the engine's) the message's intent; no unit-of-work flush adds any.
    assert percentile([float(n) for n in statements["engine"]], 0.5) == 5
    assert percentile([float(n) for n in statements["baseline"]], 0.5) == 4
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
