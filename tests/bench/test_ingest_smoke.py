"""The ingestion benchmark: its notifications are what the real route accepts, its bare route
answers the same, its verdict follows the goals, and a short run produces a well-formed result.

Timing values depend on the machine, so only their presence and consistency are checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from bench.ingest import (
    DEFAULT_POSTGRES,
    RESULTS_END,
    RESULTS_START,
    Notifications,
    summarize_rounds,
    update_docs,
)
from bench.ingest_app import bare

from frontdesk.channels.whatsapp import webhook as whatsapp
from frontdesk.security.signatures import InvalidSignature, verify_meta_signature
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
NOTIFICATIONS = Notifications("106540352242922", "app-secret", contacts=50, run="t")


def _run(throughput: float, p99: float, cpu_ms: float) -> dict[str, Any]:
    return {
        "throughput": throughput,
        "count": int(throughput * 10),
        "errors": 0,
        "error_kinds": {},
        "server_cpu": 0.9,
        "core_busy": 0.95,
        "generator_cpu": 0.2,
        "server_cpu_ms_per_op": cpu_ms,
        "latency_ms": {"p50": p99 / 2, "p90": p99 * 0.8, "p99": p99},
    }


def test_notifications_are_signed_meta_messages_with_unique_ids_over_the_contacts() -> None:
    bodies = [
        NOTIFICATIONS.body(connection, n, 1_700_000_000)
        for connection in range(4)
        for n in range(100)
    ]
    for body in bodies[:20]:
        verify_meta_signature(
            "app-secret", NOTIFICATIONS.headers(body)["X-Hub-Signature-256"], body
        )
    with pytest.raises(InvalidSignature):
        verify_meta_signature(
            "another-secret", NOTIFICATIONS.headers(bodies[0])["X-Hub-Signature-256"], bodies[0]
        )
    parsed = [
        whatsapp.parse(value)[0][0]
        for body in bodies
        for value in whatsapp.changes(orjson.loads(body))
    ]
    assert len(parsed) == len(bodies)
    assert {message.account_id for message in parsed} == {"106540352242922"}
    assert len({message.provider_id for message in parsed}) == len(bodies)
    senders = {message.sender_id for message in parsed}
    assert 1 < len(senders) <= 50
    assert all(message.kind == "text" and message.text for message in parsed)


async def test_the_bare_route_takes_the_same_notification_and_answers_alike() -> None:
    body = NOTIFICATIONS.body(0, 0, 1_700_000_000)
    transport = httpx.ASGITransport(app=bare)
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as http:
        answer = await http.post(
            "/webhooks/whatsapp", content=body, headers={"Content-Type": "application/json"}
        )
        wrong = await http.post("/webhooks/whatsapp", json={"object": "page", "entry": []})
    assert answer.status_code == 200
    assert answer.json() == {"messages": 1, "statuses": 0, "duplicates": 0}
    assert wrong.status_code == 422


def test_the_verdict_follows_the_goals() -> None:
    met = summarize_rounds([{"bare": _run(5000, 12, 0.19), "ingest": _run(2500, 40, 0.38)}])
    assert met["ratio"]["throughput"] == pytest.approx(0.5)
    assert met["goals"] == {
        "min_throughput_ratio": 0.45,
        "max_p99_ms": 50.0,
        "throughput_met": True,
        "p99_met": True,
        "met": True,
    }
    slow = summarize_rounds([{"bare": _run(5000, 12, 0.19), "ingest": _run(2000, 60, 0.5)}])
    assert slow["goals"]["throughput_met"] is False
    assert slow["goals"]["p99_met"] is False
    assert slow["goals"]["met"] is False


def test_update_docs_rewrites_only_the_results_block(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# B\n\nBefore.\n{RESULTS_START}\nold\n{RESULTS_END}\nAfter.\n")
    update_docs(docs, "new figures")
    assert (
        docs.read_text() == f"# B\n\nBefore.\n{RESULTS_START}\nnew figures\n{RESULTS_END}\nAfter.\n"
    )


@pytest.mark.timeout(300)
def test_a_short_run_produces_a_well_formed_result(tmp_path: Path) -> None:
    require(DEFAULT_POSTGRES, "PostgreSQL")
    output, docs = tmp_path / "ingest.json", tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\n{RESULTS_START}\nold\n{RESULTS_END}\n")
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "bench.ingest",
            "--rounds",
            "1",
            "--seconds",
            "1",
            "--warmup",
            "0.5",
            "--connections",
            "4",
            "--contacts",
            "20",
            "--no-pin",
            "--output",
            str(output),
            "--docs",
            str(docs),
            "--update-docs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    report = orjson.loads(output.read_bytes())
    summary = report["summary"]
    for side in ("bare", "ingest"):
        assert summary[side]["count"] > 0
        assert summary[side]["errors"] == 0
    stored = report["stored"]
    # Every message stored once, each with its decide job (the pre-run check adds one message).
    assert stored["messages"] == stored["distinct_ids"] == stored["decide_jobs"]
    assert stored["messages"] >= summary["ingest"]["count"]
    assert stored["contacts"] <= 20 + 1
    text = docs.read_text()
    assert "old" not in text
    assert "Front Desk `POST /webhooks/whatsapp`" in text
    assert "--update-docs" in text
