"""Web chat benchmark: a message in and its reply out, against a bare FastAPI route.

Starts two servers side by side, each as its own process pinned to the same core:

* ``frontdesk serve`` on a fresh embedded database in a temporary data directory;
* ``bench.baseline_app``, one ``POST /echo`` route taking the same request model, served by
  uvicorn with the same settings.

Then, for ``--rounds`` rounds (the order alternating each round so drift favours neither), a
separate load generator process (``bench.load``, pinned to the other core) drives each server
with ``--connections`` virtual users: ``--warmup`` seconds unmeasured, then ``--duration``
seconds measured. The medians over the rounds are compared as ratios, printed, written to
``bench/results/webchat.json`` (with an SVG chart) and, with ``--update-docs``, into
``docs/benchmarks.md``. Both servers are stopped and the data directory removed on every exit.

    python -m bench.webchat --duration 10 --connections 32 --rounds 3 --update-docs
"""

from __future__ import annotations

import argparse
import contextlib
import html
import importlib.metadata
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "webchat.json"
DOCS = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- webchat:start -->"
END_MARKER = "<!-- webchat:end -->"
TENANT = "colombiatic"
LABELS = {
    "baseline": "Bare FastAPI route (POST /echo)",
    "frontdesk": "Front Desk web chat (message → reply on SSE)",
}
UNITS = {"baseline": "req/s", "frontdesk": "round trips/s"}
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SETTLE_SECONDS = 1.0
LOAD_GRACE = 120.0
LIMIT_PER_MINUTE = 1_000_000
"""Rate limits for the benchmark (the most a tenant's settings allow): counted, never reached."""
PACKAGES = ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "uvloop", "httptools")


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(command: Sequence[str], cpu: int | None, **options: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` pinned to ``cpu``: the child inherits the affinity it is forked with."""
    if cpu is None:
        return subprocess.Popen(command, **options)
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        return subprocess.Popen(command, **options)
    finally:
        os.sched_setaffinity(0, previous)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask ``process`` to shut down, then insist: nothing is left running."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(path: Path, lines: int = 20, chars: int = 4000) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])[-chars:]
    except OSError:
        return ""


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def server(
    name: str,
    command: Sequence[str],
    port: int,
    cpu: int | None,
    workdir: Path,
    env: dict[str, str],
) -> Iterator[Server]:
    """Run a server until the block ends, however it ends; yields once it answers."""
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = spawn(command, cpu, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
    running = Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        _wait_ready(running)
        yield running
    finally:
        stop(process)


def _wait_ready(running: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=running.url, timeout=2) as http:
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise BenchError(
                    f"the {running.name} server exited with code {running.process.returncode}:\n"
                    + _tail(running.log)
                )
            try:
                response = (
                    http.get("/healthz")
                    if running.name == "frontdesk"
                    else http.post("/echo", json={"text": "ready?"})
                )
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise BenchError(f"the {running.name} server did not answer in time:\n" + _tail(running.log))


def publishable_key(url: str) -> str:
    """The owner tenant's publishable key, as the demo page at ``/`` embeds it."""
    page = httpx.get(f"{url}/", timeout=10).text
    marker = '"publishableKey":"'
    start = page.find(marker)
    if start < 0:
        raise BenchError("no publishable key on the demo page")
    start += len(marker)
    key = page[start : page.index('"', start)]
    if not key:
        raise BenchError("the owner tenant has no publishable key")
    return key


def raise_owner_limits() -> None:
    """Put the owner tenant's rate limits out of the benchmark's reach (run with its env).

    Every request still goes through the limiter, as in production; none is refused. A real
    deployment spreads its visitors over many addresses and conversations; the benchmark sends
    everything from one address, as fast as the server answers.
    """
    import asyncio

    from frontdesk.settings import Settings
    from frontdesk.store.db import Database
    from frontdesk.tenancy import service as tenants

    changes = {
        "plan": "enterprise",
        "rate_limits": dict.fromkeys(("tenant", "key", "visitor"), LIMIT_PER_MINUTE),
    }

    async def work() -> None:
        db = Database(Settings())
        try:
            async with db.session() as session:
                row = await tenants.get_tenant(session, TENANT)
                await tenants.update_settings(session, row, changes, actor="benchmark")
        finally:
            await db.dispose()

    asyncio.run(work())


def configure_owner(frontdesk: Server, key: str, workdir: Path, env: dict[str, str]) -> None:
    """Raise the owner's limits from a child process, then wait until the server applies them."""
    code = "from bench.webchat import raise_owner_limits; raise_owner_limits()"
    log = workdir / "configure.log"
    with log.open("wb") as sink:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=READY_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError("could not raise the owner tenant's rate limits:\n" + _tail(log))
    # Tenant settings reach the server's cache through its invalidation log, within a second.
    deadline = time.monotonic() + 15
    with httpx.Client(base_url=frontdesk.url, timeout=5) as http:
        while time.monotonic() < deadline:
            response = http.post(
                f"/web/v1/{TENANT}/conversations", headers={"X-FrontDesk-Key": key}, json={}
            )
            if response.headers.get("ratelimit-limit") == str(LIMIT_PER_MINUTE):
                return
            time.sleep(0.25)
    raise BenchError("the server did not apply the raised rate limits")


def frontdesk_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("frontdesk")
    program = (
        [str(script)]
        if script.is_file()
        else [sys.executable, "-c", "from frontdesk.cli import main; main()"]
    )
    return [*program, "serve", "--host", "127.0.0.1", "--port", str(port)]


def server_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without its Front Desk settings, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        FRONTDESK_DATA_DIR=str(data_dir),
        FRONTDESK_LOG_LEVEL="warning",
        # All the load comes from one address: the pre-auth flood limit must not stop it.
        FRONTDESK_IP_FLOOD_PER_MINUTE=str(LIMIT_PER_MINUTE),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


# ---------------------------------------------------------------- load


@dataclass
class Plan:
    duration: float
    connections: int
    rounds: int
    warmup: float
    server_cpu: int | None
    load_cpu: int | None


def run_load(
    plan: Plan,
    target: Server,
    key: str,
    workdir: Path,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    """One load generator run against ``target``; its JSON result plus the server's CPU use."""
    mode = "echo" if target.name == "baseline" else "webchat"
    command = [
        sys.executable,
        "-m",
        "bench.load",
        mode,
        "--url",
        target.url,
        "--connections",
        str(plan.connections),
        "--duration",
        str(plan.duration),
        "--warmup",
        str(plan.warmup),
        "--tenant",
        TENANT,
        "--key",
        key,
        "--server-pid",
        str(target.process.pid),
    ]
    out_path, err_path = workdir / "load.out", workdir / "load.err"
    total = plan.warmup + plan.duration
    task = progress.add_task(f"{label} · connecting", total=total, detail=f"0/{total:g} s")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = spawn(command, plan.load_cpu, cwd=ROOT, stdout=out, stderr=err)
    started = time.monotonic()
    phases: dict[str, float] = {}
    try:
        while process.poll() is None:
            for phase in _phases(err_path):
                phases.setdefault(phase, time.monotonic())
            if "warmup" in phases:
                elapsed = time.monotonic() - phases["warmup"]
                phase = "measuring" if "measure" in phases else "warming up"
                progress.update(
                    task,
                    completed=elapsed,
                    description=f"{label} · {phase}",
                    detail=f"{min(elapsed, total):.0f}/{total:g} s",
                )
            if time.monotonic() - started > plan.warmup + plan.duration + LOAD_GRACE:
                raise BenchError(f"the load generator did not finish ({label})")
            if target.process.poll() is not None:
                raise BenchError(f"the {target.name} server died:\n" + _tail(target.log))
            time.sleep(0.1)
    finally:
        stop(process)
        progress.update(task, completed=total, visible=False)
    if process.returncode != 0:
        raise BenchError(f"the load generator failed ({label}):\n" + _tail(err_path))
    result: dict[str, Any] = orjson.loads(out_path.read_bytes())
    return result


def _phases(path: Path) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line.split()[1] for line in text.splitlines() if line.startswith("phase ")]


# ---------------------------------------------------------------- results


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {}
    for package in ("frontdesk", *PACKAGES):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return {
        "cpu_model": model,
        "nproc": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": versions,
        "database": "SQLite (embedded default)",
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of each figure, and Front Desk's ratios to the baseline."""
    summary: dict[str, Any] = {}
    for name in ("baseline", "frontdesk"):
        runs = [entry[name] for entry in rounds]
        cpu = [run["server_cpu"] for run in runs if run.get("server_cpu") is not None]
        load_cpu = [run["generator_cpu"] for run in runs]
        per_op = [run["server_cpu_ms_per_op"] for run in runs if run.get("server_cpu_ms_per_op")]
        summary[name] = {
            "throughput": statistics.median(run["throughput"] for run in runs),
            "latency_ms": {
                p: statistics.median(run["latency_ms"][p] for run in runs)
                for p in ("p50", "p90", "p99")
            },
            "count": sum(run["count"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "server_cpu": statistics.median(cpu) if cpu else None,
            "generator_cpu": statistics.median(load_cpu),
            "server_cpu_ms_per_op": statistics.median(per_op) if per_op else None,
        }
    base, front = summary["baseline"], summary["frontdesk"]
    summary["ratio"] = {
        "throughput": _ratio(front["throughput"], base["throughput"]),
        "p50": _ratio(front["latency_ms"]["p50"], base["latency_ms"]["p50"]),
        "p99": _ratio(front["latency_ms"]["p99"], base["latency_ms"]["p99"]),
        "server_cpu_per_op": (
            _ratio(front["server_cpu_ms_per_op"], base["server_cpu_ms_per_op"])
            if front["server_cpu_ms_per_op"] and base["server_cpu_ms_per_op"]
            else None
        ),
    }
    return summary


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def command_line(plan: Plan, update_docs: bool) -> str:
    parts = [
        ".venv/bin/python -m bench.webchat",
        f"--duration {plan.duration:g}",
        f"--connections {plan.connections}",
        f"--rounds {plan.rounds}",
        f"--warmup {plan.warmup:g}",
    ]
    if update_docs:
        parts.append("--update-docs")
    return " ".join(parts)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}×" if value < 1 else f"{value:.1f}×"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def terminal_table(report: dict[str, Any]) -> Table:
    table = Table(
        title="Web chat round trips vs bare route requests",
        caption=(
            "baseline: POST /echo requests; frontdesk: message → reply round trips; "
            "ratio: frontdesk / baseline; server, load: CPU use while measuring"
        ),
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = ("run", "per s", "p50 ms", "p90 ms", "p99 ms", "err", "server", "load")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right", no_wrap=True)

    def cells(run: dict[str, Any]) -> list[str]:
        lat = run["latency_ms"]
        return [
            _fmt(run["throughput"]),
            _fmt(lat["p50"]),
            _fmt(lat["p90"]),
            _fmt(lat["p99"]),
            str(run["errors"]),
            _pct(run.get("server_cpu")),
            _pct(run.get("generator_cpu")),
        ]

    for entry in report["rounds"]:
        for name in ("baseline", "frontdesk"):
            table.add_row(f"{entry['round']} {name}", *cells(entry[name]), style="dim")
    summary = report["summary"]
    for name in ("baseline", "frontdesk"):
        table.add_row(f"median {name}", *cells(summary[name]), style="bold")
    ratio = summary["ratio"]
    table.add_row(
        "ratio",
        _times(ratio["throughput"]),
        _times(ratio["p50"]),
        "",
        _times(ratio["p99"]),
        style="bold cyan",
    )
    return table


def markdown(report: dict[str, Any]) -> str:
    """The block between the markers in ``docs/benchmarks.md``."""
    summary, settings, host = report["summary"], report["settings"], report["machine"]
    ratio = summary["ratio"]
    pinning = report["pinning"]
    pinned = (
        f"server processes pinned to CPU {pinning['server_cpu']}, "
        f"load generator to CPU {pinning['load_cpu']}"
        if pinning
        else "processes not pinned"
    )
    versions = ", ".join(f"{name} {version}" for name, version in host["packages"].items())
    per_round = ", ".join(
        _times(_ratio(entry["frontdesk"]["throughput"], entry["baseline"]["throughput"]))
        for entry in report["rounds"]
    )

    def row(name: str) -> str:
        med = summary[name]
        lat = med["latency_ms"]
        return (
            f"| {LABELS[name]} | {_fmt(med['throughput'])} {UNITS[name]} "
            f"| {_fmt(lat['p50'])} | {_fmt(lat['p90'])} | {_fmt(lat['p99'])} "
            f"| {med['errors']} | {_pct(med['server_cpu'])} "
            f"| {_fmt(med['server_cpu_ms_per_op'], 3)} | {_pct(med['generator_cpu'])} |"
        )

    lines = [
        f"Measured {report['timestamp'][:10]} on {host['nproc']} CPUs ({host['cpu_model']}), "
        f"{host['system'].split()[0]}, Python {host['python']}; {pinned}. "
        f"{settings['connections']} connections, {settings['warmup']:g} s warm-up then "
        f"{settings['duration']:g} s measured per run, median of {settings['rounds']} rounds.",
        "",
        "| | Throughput | p50 ms | p90 ms | p99 ms | Errors | Server CPU "
        "| Server CPU ms per op | Load CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        row("baseline"),
        row("frontdesk"),
        f"| **Front Desk / baseline** | **{_times(ratio['throughput'])}** "
        f"| {_times(ratio['p50'])} | | **{_times(ratio['p99'])}** | | "
        f"| {_times(ratio['server_cpu_per_op'])} | |",
        "",
        "Front Desk / baseline throughput per round: " + per_round + ". Measured in all: "
        f"{summary['baseline']['count']:,} baseline requests, "
        f"{summary['frontdesk']['count']:,} Front Desk round trips.",
        "",
        f"Versions: {versions}.",
        "",
        "Reproduce with:",
        "",
        "```sh",
        report["command"],
        "```",
    ]
    return "\n".join(lines)


def replace_block(path: Path, start_marker: str, end_marker: str, block: str) -> None:
    """Write ``block`` between two markers of ``path`` (kept), as every benchmark records its
    results in docs/benchmarks.md; ``BenchError`` when the markers are missing."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise BenchError(f"{path.name} has no {start_marker} … {end_marker} block")
    head = text[: start + len(start_marker)]
    path.write_text(f"{head}\n{block}\n{text[end:]}", encoding="utf-8")


def update_docs(path: Path, block: str) -> None:
    replace_block(path, START_MARKER, END_MARKER, block)


def chart(report: dict[str, Any]) -> str:
    """A two-panel SVG bar chart: throughput and p99 latency, medians over the rounds."""
    summary = report["summary"]
    panels: list[tuple[str, str, Callable[[dict[str, Any]], float]]] = [
        ("Throughput (per second)", "throughput", lambda med: float(med["throughput"])),
        ("p99 latency (ms)", "p99", lambda med: float(med["latency_ms"]["p99"])),
    ]
    colors = {"baseline": "#8c8c8c", "frontdesk": "#1f6feb"}
    width, left, bar_width, bar, gap = 720, 330, 300, 26, 10
    parts: list[str] = []
    y = 20
    for title, key, pick in panels:
        parts.append(f'<text x="10" y="{y + 14}" font-weight="bold">{html.escape(title)}</text>')
        y += 26
        top = max(pick(summary[name]) for name in ("baseline", "frontdesk")) or 1.0
        for name in ("baseline", "frontdesk"):
            value = pick(summary[name])
            length = max(1.0, bar_width * value / top)
            parts.append(
                f'<text x="10" y="{y + 18}">{html.escape(LABELS[name])}</text>'
                f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" '
                f'fill="{colors[name]}"/>'
                f'<text x="{left + length + 6:.1f}" y="{y + 18}">{_fmt(value)}</text>'
            )
            y += bar + gap
        ratio = summary["ratio"][key]
        parts.append(
            f'<text x="10" y="{y + 12}" fill="#555">Front Desk / baseline: '
            f"{html.escape(_times(ratio))}</text>"
        )
        y += 36
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'font-family="sans-serif" font-size="13">'
        f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>\n'
    )


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webchat",
        description="Web chat message→reply vs a bare FastAPI route, under concurrent load.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--connections", type=int, default=32, help="concurrent virtual users")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both servers (median)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per run")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results JSON file")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the Markdown file to update")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the results block in --docs"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--duration > 0, --connections >= 1, --rounds >= 1, --warmup >= 0")
    return args


def cpus(no_pin: bool) -> tuple[int | None, int | None]:
    """The server's CPU and the load generator's: the first two this process may use."""
    if no_pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def bench(plan: Plan, console: Console, update: bool) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fd-bench-")))
        data_dir = workdir / "data"
        data_dir.mkdir()
        env = server_env(data_dir)
        with console.status("starting the servers"):
            base_port, front_port = free_port(), free_port()
            baseline = stack.enter_context(
                server(
                    "baseline",
                    [sys.executable, "-m", "bench.baseline_app", "--port", str(base_port)],
                    base_port,
                    plan.server_cpu,
                    workdir,
                    env,
                )
            )
            frontdesk = stack.enter_context(
                server(
                    "frontdesk",
                    frontdesk_command(front_port),
                    front_port,
                    plan.server_cpu,
                    workdir,
                    env,
                )
            )
            key = publishable_key(frontdesk.url)
            configure_owner(frontdesk, key, workdir, env)
        rounds: list[dict[str, Any]] = []
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )
        with progress:
            runs = plan.rounds * 2
            overall = progress.add_task("all runs", total=runs, detail=f"0/{runs} runs")
            for index in range(plan.rounds):
                order = [baseline, frontdesk] if index % 2 == 0 else [frontdesk, baseline]
                entry: dict[str, Any] = {"round": index + 1, "order": [s.name for s in order]}
                for target in order:
                    label = f"round {index + 1}/{plan.rounds} · {target.name}"
                    result = run_load(plan, target, key, workdir, progress, label)
                    entry[target.name] = result
                    progress.console.print(
                        f"{label}: {_fmt(result['throughput'])} {UNITS[target.name]}, "
                        f"p50 {_fmt(result['latency_ms']['p50'])} ms, "
                        f"p99 {_fmt(result['latency_ms']['p99'])} ms, "
                        f"{result['errors']} errors, server CPU {_pct(result['server_cpu'])}",
                        highlight=False,
                    )
                    for kind, count in result.get("error_kinds", {}).items():
                        progress.console.print(
                            f"  {count} × {kind}", markup=False, highlight=False, style="red"
                        )
                    done = index * 2 + order.index(target) + 1
                    progress.update(overall, completed=done, detail=f"{done}/{runs} runs")
                    time.sleep(SETTLE_SECONDS)
                rounds.append(entry)
    for entry in rounds:
        for name in ("baseline", "frontdesk"):
            if entry[name]["count"] == 0:
                raise BenchError(f"round {entry['round']}: no {name} round trip completed")
    return {
        "benchmark": "webchat",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(plan, update),
        "settings": {
            "duration": plan.duration,
            "connections": plan.connections,
            "rounds": plan.rounds,
            "warmup": plan.warmup,
        },
        "pinning": (
            {"server_cpu": plan.server_cpu, "load_cpu": plan.load_cpu}
            if plan.server_cpu is not None
            else None
        ),
        "machine": machine(),
        "rounds": rounds,
        "summary": summarize(rounds),
    }


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # Once: a second signal must not interrupt the cleanup the first one starts.
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    server_cpu, load_cpu = cpus(args.no_pin)
    if load_cpu is not None:
        # This process only watches: it stays off the servers' core.
        os.sched_setaffinity(0, {load_cpu})
    plan = Plan(args.duration, args.connections, args.rounds, args.warmup, server_cpu, load_cpu)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = bench(plan, console, args.update_docs)
    except BenchError as exc:
        console.print("benchmark failed:", style="bold red", end=" ")
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: servers stopped[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print(terminal_table(report))
    summary = report["summary"]
    console.print(
        "server CPU per operation: "
        f"baseline {_fmt(summary['baseline']['server_cpu_ms_per_op'], 3)} ms, "
        f"frontdesk {_fmt(summary['frontdesk']['server_cpu_ms_per_op'], 3)} ms "
        f"({_times(summary['ratio']['server_cpu_per_op'])})",
        highlight=False,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    args.output.with_suffix(".svg").write_text(chart(report), encoding="utf-8")
    console.print(f"results written to {_shown(args.output)} (and its .svg chart)")
    if args.update_docs:
        try:
            update_docs(args.docs, markdown(report))
        except (BenchError, OSError) as exc:
            console.print(f"[bold red]docs not updated:[/] {exc}", highlight=False)
            return 1
        console.print(f"updated {_shown(args.docs)}")
    return 0


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
