"""Intent classification latency: one message at a time on one core, against a baseline.

Every held-out message is classified ``--rounds`` times (in a shuffled order each round, after a
warm-up round), each call timed on its own; the baseline is the cheapest thing a classifier could
do with the message (case-fold it and look it up in a dict), timed the same way in the same run.

    python -m bench.intent --rounds 20 --update-docs
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from frontdesk.engine.intent.classifier import IntentClassifier
from frontdesk.engine.intent.data import read_csv
from frontdesk.engine.intent.metrics import GOAL_P99_MS, percentile

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
HOLDOUT = ROOT / "data" / "intent" / "holdout.csv"
START, END = "<!-- intent:results:start -->", "<!-- intent:results:end -->"
console = Console()


def _time_each(operation: Callable[[str], object], texts: list[str], rounds: int) -> list[float]:
    """Per-call latencies in microseconds, over ``rounds`` shuffled passes."""
    clock = time.perf_counter_ns
    order = list(texts)
    rng = random.Random(0)
    for text in order:
        operation(text)
    samples = []
    for _ in range(rounds):
        rng.shuffle(order)
        for text in order:
            started = clock()
            operation(text)
            samples.append((clock() - started) / 1000)
    return samples


def run(rounds: int, cpu: int | None) -> dict[str, Any]:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    texts = list(read_csv(HOLDOUT).texts)
    started = time.perf_counter()
    classifier = IntentClassifier.load()
    load_ms = (time.perf_counter() - started) * 1000
    lookup = {text.casefold(): "other" for text in texts[::2]}

    def baseline(text: str) -> object:
        return lookup.get(text.casefold())

    gc.collect()
    gc.freeze()
    results = {}
    for name, operation in (("baseline", baseline), ("classify", classifier.classify)):
        samples = _time_each(operation, texts, rounds)
        results[name] = {
            "p50": percentile(samples, 50),
            "p99": percentile(samples, 99),
            "max": max(samples),
            "mean": statistics.fmean(samples),
        }
    gc.unfreeze()
    return {
        "results": results,
        "messages": len(texts),
        "rounds": rounds,
        "cpu": cpu,
        "load_ms": load_ms,
        "ratio_p50": results["classify"]["p50"] / results["baseline"]["p50"],
        "ratio_p99": results["classify"]["p99"] / results["baseline"]["p99"],
        "python": platform.python_version(),
    }


def markdown(report: dict[str, Any], command: str) -> str:
    rows = "\n".join(
        f"| {name} | {v['p50']:,.1f} | {v['p99']:,.1f} | {v['max']:,.1f} |"
        for name, v in report["results"].items()
    )
    p99_ms = report["results"]["classify"]["p99"] / 1000
    verdict = "met" if p99_ms <= GOAL_P99_MS else "NOT met"
    pinned = f"pinned to CPU {report['cpu']}" if report["cpu"] is not None else "not pinned"
    return (
        f"{START}\n"
        f"Command: `{command}` ({report['messages']} held-out messages × {report['rounds']} "
        f"rounds, one call at a time, {pinned}, Python {report['python']}).\n\n"
        "| operation | p50 µs | p99 µs | max µs |\n|---|---:|---:|---:|\n"
        f"{rows}\n\n"
        f"Classifying costs **{report['ratio_p50']:,.0f}×** the baseline at the median and "
        f"**{report['ratio_p99']:,.0f}×** at p99; p99 is **{p99_ms:.3f} ms** (goal ≤ "
        f"{GOAL_P99_MS:g} ms: {verdict}). Loading the model takes {report['load_ms']:,.0f} ms, "
        "once per process.\n"
        f"{END}"
    )


def update_docs(block: str) -> None:
    """Replace the results block of the intent section (its markers must be there)."""
    text = DOCS.read_text(encoding="utf-8")
    before, found, rest = text.partition(START)
    if not found or END not in rest:
        raise SystemExit(f"{DOCS.name}: no {START} … {END} block")
    DOCS.write_text(before + block + rest.partition(END)[2], encoding="utf-8")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to (-1: do not pin)")
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args()
    report = run(args.rounds, None if args.cpu < 0 else args.cpu)
    table = Table("operation", "p50 µs", "p99 µs", "max µs")
    for name, v in report["results"].items():
        table.add_row(name, f"{v['p50']:,.1f}", f"{v['p99']:,.1f}", f"{v['max']:,.1f}")
    console.print(table)
    console.print(
        f"classify / baseline: {report['ratio_p50']:,.0f}× at p50, {report['ratio_p99']:,.0f}× "
        f"at p99; p99 {report['results']['classify']['p99'] / 1000:.3f} ms (goal ≤ 1 ms)"
    )
    if args.update_docs:
        command = f"python -m bench.intent --rounds {args.rounds} --update-docs"
        update_docs(markdown(report, command))


if __name__ == "__main__":
    cli()
