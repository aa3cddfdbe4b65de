"""The web chat benchmark harness, run for a moment: it must produce a well-formed result.

Timing values depend on the machine, so only their presence and consistency are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.load import SseDecoder, percentile
from bench.webchat import END_MARKER, START_MARKER, summarize

ROOT = Path(__file__).resolve().parents[2]


def _run(point: dict[str, float]) -> dict[str, Any]:
    return {
        "throughput": point["throughput"],
        "count": int(point["throughput"] * 10),
        "errors": 0,
        "server_cpu": None,
        "generator_cpu": 0.1,
        "server_cpu_ms_per_op": 100 / point["throughput"],
        "latency_ms": {"p50": point["p50"], "p90": point["p99"], "p99": point["p99"]},
    }


def test_the_harness_produces_a_well_formed_result(tmp_path: Path) -> None:
    output = tmp_path / "webchat.json"
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\n{START_MARKER}\nold figures\n{END_MARKER}\n\nAfter.\n")
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "bench.webchat",
            "--duration",
            "1",
            "--connections",
            "2",
            "--rounds",
            "1",
            "--warmup",
            "0.5",
            "--output",
            str(output),
            "--docs",
            str(docs),
            "--update-docs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

    report = json.loads(output.read_text())
    assert report["settings"] == {"duration": 1, "connections": 2, "rounds": 1, "warmup": 0.5}
    assert report["machine"]["nproc"] > 0
    assert report["machine"]["cpu_model"]
    assert len(report["rounds"]) == 1
    assert sorted(report["rounds"][0]["order"]) == ["baseline", "frontdesk"]
    summary = report["summary"]
    for name in ("baseline", "frontdesk"):
        run = report["rounds"][0][name]
        assert run["count"] > 0
        assert run["throughput"] > 0
        assert run["errors"] >= 0
        assert 0 < run["latency_ms"]["p50"] <= run["latency_ms"]["p90"] <= run["latency_ms"]["p99"]
        assert summary[name]["throughput"] == run["throughput"]
        assert summary[name]["latency_ms"]["p99"] == run["latency_ms"]["p99"]
        if run["server_cpu"] is not None:
            assert run["server_cpu"] > 0
            assert run["server_cpu_ms_per_op"] > 0
    base, front = summary["baseline"], summary["frontdesk"]
    assert summary["ratio"]["throughput"] == pytest.approx(front["throughput"] / base["throughput"])
    assert summary["ratio"]["p50"] == pytest.approx(
        front["latency_ms"]["p50"] / base["latency_ms"]["p50"]
    )
    assert summary["ratio"]["p99"] == pytest.approx(
        front["latency_ms"]["p99"] / base["latency_ms"]["p99"]
    )
    assert "bench.webchat" in report["command"]

    assert output.with_suffix(".svg").read_text().startswith("<svg")
    text = docs.read_text()
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n")
    assert text.rstrip().endswith("After.")
    block = text[text.index(START_MARKER) : text.index(END_MARKER)]
    assert "Front Desk / baseline" in block
    assert report["command"] in block
    assert str(ROOT) not in text


def test_medians_and_ratios_over_rounds() -> None:
    rounds = [
        {
            "baseline": _run({"throughput": b, "p50": 2.0, "p99": p}),
            "frontdesk": _run({"throughput": f, "p50": 20.0, "p99": 10 * p}),
        }
        for b, f, p in [(1000.0, 100.0, 5.0), (3000.0, 90.0, 7.0), (2000.0, 300.0, 6.0)]
    ]
    summary = summarize(rounds)
    assert summary["baseline"]["throughput"] == 2000.0
    assert summary["frontdesk"]["throughput"] == 100.0
    assert summary["ratio"]["throughput"] == pytest.approx(0.05)
    assert summary["ratio"]["p50"] == pytest.approx(10.0)
    assert summary["ratio"]["p99"] == pytest.approx(10.0)
    assert summary["ratio"]["server_cpu_per_op"] == pytest.approx(20.0)
    assert summary["baseline"]["count"] == 60000


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_the_event_decoder_survives_chunks_split_anywhere() -> None:
    stream = (
        b": ping\r\n\r\n"
        b'event: message\r\nid: 3\r\ndata: {"seq": 3, "direction": "out"}\r\n\r\n'
        b'event: typing\r\ndata: {"typing": true}\r\n\r\n'
    )
    for size in (1, 2, 3, 7, len(stream)):
        seen: list[tuple[str, str]] = []

        def collect(event: str, data: str, seen: list[tuple[str, str]] = seen) -> None:
            seen.append((event, data))

        decoder = SseDecoder(collect)
        for start in range(0, len(stream), size):
            decoder.feed(stream[start : start + size])
        assert seen == [
            ("message", '{"seq": 3, "direction": "out"}'),
            ("typing", '{"typing": true}'),
        ]
