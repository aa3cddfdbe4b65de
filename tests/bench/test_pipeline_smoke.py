"""The request pipeline benchmark, run for a moment: it must produce a well-formed result.

Timing values depend on the machine, so only their presence and consistency are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from bench.load import RequestSpec, core_jiffies, sign, signing_key
from bench.pipeline import (
    CONFIGS,
    END_MARKER,
    RESULTS_END,
    RESULTS_START,
    START_MARKER,
    summarize,
    update_docs,
)

from frontdesk.security.secrets import generate_secret
from frontdesk.security.signatures import InvalidSignature, verify_request

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
RUN_CONFIGS = ("visitor", "access", "signed")


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


@pytest.mark.timeout(300)
def test_the_harness_produces_a_well_formed_result(tmp_path: Path) -> None:
    output = tmp_path / "pipeline.json"
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        f"# Benchmarks\n\n{START_MARKER}\n## Request pipeline\n\nBefore.\n\n"
        f"{RESULTS_START}\nold figures\n{RESULTS_END}\n\nProfile notes.\n{END_MARKER}\n\nAfter.\n"
    )
    completed = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "bench.pipeline",
            "--duration",
            "1",
            "--connections",
            "2",
            "--rounds",
            "1",
            "--warmup",
            "0.5",
            # In memory only: the Redis configuration is asked for but must be skipped.
            "--configs",
            ",".join((*RUN_CONFIGS, "redis")),
            "--redis-url",
            UNREACHABLE_REDIS,
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
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "skipping the Redis limiter configuration" in " ".join(completed.stdout.split())

    report = json.loads(output.read_text())
    assert report["benchmark"] == "pipeline"
    assert report["settings"]["duration"] == 1
    assert report["settings"]["connections"] == 2
    assert report["settings"]["rounds"] == 1
    assert report["machine"]["nproc"] > 0
    assert report["redis"]["used"] is False
    assert set(report["skipped"]) == {"redis"}
    assert sorted(report["configs"]) == sorted(RUN_CONFIGS)
    for name, config in report["configs"].items():
        assert config["label"] == CONFIGS[name].label
        assert len(config["rounds"]) == 1
        entry = config["rounds"][0]
        assert sorted(entry["order"]) == ["bare", "pipeline"]
        summary = config["summary"]
        for side in ("bare", "pipeline"):
            run = entry[side]
            assert run["count"] > 0
            assert run["throughput"] > 0
            assert run["errors"] == 0, run["error_kinds"]
            lat = run["latency_ms"]
            assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
            assert summary[side]["throughput"] == run["throughput"]
            assert summary[side]["latency_ms"]["p99"] == lat["p99"]
        ratio = summary["ratio"]
        bare, pipeline = summary["bare"], summary["pipeline"]
        assert ratio["throughput"] == pytest.approx(pipeline["throughput"] / bare["throughput"])
        assert ratio["p99"] == pytest.approx(
            pipeline["latency_ms"]["p99"] / bare["latency_ms"]["p99"]
        )
        goals = summary["goals"]
        assert goals["min_throughput_ratio"] == CONFIGS[name].min_throughput
        assert goals["met"] in (True, False)
    assert "bench.pipeline" in report["command"]

    assert output.with_suffix(".svg").read_text().startswith("<svg")
    text = docs.read_text()
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n")
    assert text.rstrip().endswith("After.")
    assert "Before." in text
    assert "Profile notes." in text
    block = text[text.index(RESULTS_START) : text.index(RESULTS_END)]
    for name in RUN_CONFIGS:
        assert CONFIGS[name].label in block
    assert "skipped" in block
    assert report["command"] in block
    assert str(ROOT) not in text


def test_goals_and_ratios_over_rounds() -> None:
    rounds = [
        {"bare": _run(b, 10.0, 0.2), "pipeline": _run(p, 18.0, 0.25)}
        for b, p in [(1000.0, 850.0), (3000.0, 2000.0), (2000.0, 1700.0)]
    ]
    summary = summarize(CONFIGS["visitor"], rounds)
    assert summary["bare"]["throughput"] == 2000.0
    assert summary["pipeline"]["throughput"] == 1700.0
    assert summary["ratio"]["throughput"] == pytest.approx(0.85)
    assert summary["ratio"]["p99"] == pytest.approx(1.8)
    assert summary["pipeline_cpu_us_per_request"] == pytest.approx(50.0)
    assert summary["ratio"]["throughput_by_cpu"] == pytest.approx(0.8)
    assert summary["goals"] == {
        "min_throughput_ratio": 0.80,
        "max_p99_ratio": 2.0,
        "throughput_met": True,
        "p99_met": True,
        "met": True,
    }
    slow = summarize(CONFIGS["redis"], [{"bare": _run(1000, 5, 0.2), "pipeline": _run(600, 50, 1)}])
    assert slow["goals"]["throughput_met"] is False
    assert slow["goals"]["p99_met"] is None  # no p99 goal with Redis
    assert slow["goals"]["met"] is False


def test_the_load_generator_signs_as_front_desk_verifies() -> None:
    secret = generate_secret()
    body = orjson.dumps({"text": "¿Cuánto cuesta una tienda en línea?", "client_id": "c-1"})
    headers = sign(signing_key(secret), "msg_c-1", body)
    message = verify_request([secret], headers, body)
    assert message.msg_id == "msg_c-1"
    with pytest.raises(InvalidSignature):
        verify_request([secret], headers, body + b" ")
    stale = sign(
        signing_key(secret), "msg_c-2", body, timestamp=int(datetime.now(UTC).timestamp()) - 3600
    )
    with pytest.raises(InvalidSignature):
        verify_request([secret], stale, body)


def test_request_specs_survive_json() -> None:
    spec = RequestSpec(
        path="/v1/bench/echo",
        headers=({"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}),
        sign_secret="whsec_AAAA",
    )
    assert RequestSpec.from_json(orjson.loads(orjson.dumps(spec.to_json()))) == spec
    assert RequestSpec.from_json({"path": "/echo"}).headers == ({},)


def test_the_docs_block_is_the_results_block_or_the_whole_section(tmp_path: Path) -> None:
    nested = tmp_path / "nested.md"
    nested.write_text(
        f"a\n{START_MARKER}\nintro\n{RESULTS_START}\nold\n{RESULTS_END}\nnotes\n{END_MARKER}\nz\n"
    )
    update_docs(nested, "new")
    assert nested.read_text() == (
        f"a\n{START_MARKER}\nintro\n{RESULTS_START}\nnew\n{RESULTS_END}\nnotes\n{END_MARKER}\nz\n"
    )
    flat = tmp_path / "flat.md"
    flat.write_text(f"a\n{START_MARKER}\nold\n{END_MARKER}\nz\n")
    update_docs(flat, "new")
    assert flat.read_text() == f"a\n{START_MARKER}\nnew\n{END_MARKER}\nz\n"


def test_core_use_is_read_from_proc_stat() -> None:
    assert core_jiffies(None) is None
    ticks = core_jiffies(0)
    if Path("/proc/stat").exists():
        assert ticks is not None
        busy, total = ticks
        assert 0 <= busy <= total
