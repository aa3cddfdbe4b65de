"""Request pipeline benchmark: the whole security pipeline against the same bare FastAPI route.

Starts, side by side and pinned to the same core:

* ``bench.baseline_app``: ``POST /echo`` taking the same request model, answering at once;
* ``bench.pipeline_app`` with the in-memory rate limiter: the real app (``create_app``) plus
  benchmark routes answering the same way behind the real pipeline (request id, body limit,
  pre-auth flood limit, CORS, tenant, credential, scope, rate limits);
* the same with the Redis rate limiter (``--redis-url``), when that configuration is chosen and
  Redis answers (otherwise it is skipped, with the reason printed and recorded).

Then for ``--rounds`` rounds, for each configuration, a separate load generator process
(``bench.load request``, pinned to the other core) drives the bare route and the pipeline route
with the same requests (headers, signatures and bodies), the order alternating each round:
``--warmup`` seconds unmeasured, then ``--duration`` seconds measured. Medians over the rounds
give each configuration's throughput and p99 ratios, checked against the goals. Results go to
``bench/results/pipeline.json`` (with an SVG chart) and, with ``--update-docs``, into
``docs/benchmarks.md``. Every server is stopped and the data directory removed on every exit.

    python -m bench.pipeline --duration 10 --connections 32 --rounds 3 --update-docs
"""

from __future__ import annotations

import argparse
import contextlib
import html
import importlib.metadata
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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

from bench.load import RequestSpec, sign, signing_key
from bench.webchat import (
    BenchError,
    _fmt,
    _pct,
    _tail,
    cpus,
    free_port,
    machine,
    replace_block,
    spawn,
    stop,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "pipeline.json"
DOCS = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- pipeline:start -->"
END_MARKER = "<!-- pipeline:end -->"
RESULTS_START = "<!-- pipeline:results:start -->"
RESULTS_END = "<!-- pipeline:results:end -->"
"""Inside the section, the block ``--update-docs`` rewrites (the whole section if absent)."""
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
READY_TIMEOUT = 60.0
SETTLE_SECONDS = 1.0
LOAD_GRACE = 120.0
LIMIT_PER_MINUTE = 1_000_000
EXTRA_PACKAGES = ("redis", "limits", "pyjwt", "cryptography", "standardwebhooks")


@dataclass(frozen=True)
class Config:
    """One configuration: which pipeline server, which route flavour, and its goals."""

    name: str
    label: str
    server: str
    flavour: str
    min_throughput: float
    max_p99: float | None


CONFIGS: dict[str, Config] = {
    config.name: config
    for config in (
        Config(
            "visitor",
            "In-memory limiter, visitor token (web route, CORS)",
            "memory",
            "web",
            0.80,
            2.0,
        ),
        Config(
            "access",
            "In-memory limiter, access token (server route)",
            "memory",
            "server",
            0.80,
            2.0,
        ),
        Config(
            "redis",
            "Redis limiter, visitor token (web route, CORS)",
            "redis",
            "web",
            0.65,
            None,
        ),
        Config(
            "signed",
            "In-memory limiter, signed request (Standard Webhooks)",
            "memory",
            "signed",
            0.80,
            2.0,
        ),
    )
}
ROUTES = {
    "web": "POST /web/v1/{tenant}/bench/echo",
    "server": "POST /v1/bench/echo",
    "signed": "POST /v1/channels/api/{tenant}/bench/echo",
}


# ---------------------------------------------------------------- processes


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
    ready: tuple[str, str],
) -> Iterator[Server]:
    """Run a server until the block ends, however it ends; yields once ``ready`` answers 200."""
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = spawn(command, cpu, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
    running = Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        _wait_ready(running, *ready)
        yield running
    finally:
        stop(process)


def _wait_ready(running: Server, method: str, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=running.url, timeout=2) as http:
        while time.monotonic() < deadline:
            if running.process.poll() is not None:
                raise BenchError(
                    f"the {running.name} server exited with code {running.process.returncode}:\n"
                    + _tail(running.log)
                )
            try:
                body = {"text": "ready?"} if method == "POST" else None
                if http.request(method, path, json=body).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise BenchError(f"the {running.name} server did not answer in time:\n" + _tail(running.log))


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


def redis_problem(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used (None when it answers ``PING``)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def redis_version(url: str) -> str | None:
    import redis

    with contextlib.suppress(redis.RedisError, OSError):
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            return str(client.info("server").get("redis_version"))
        finally:
            client.close()
    return None


def prepare(workdir: Path, env: dict[str, str], visitors: int) -> dict[str, Any]:
    """Migrate, set the owner tenant up and get credentials, in a child process with ``env``."""
    output, log = workdir / "credentials.json", workdir / "prepare.log"
    command = [sys.executable, "-m", "bench.pipeline_app", "prepare", "--output", str(output)]
    with log.open("wb") as sink:
        done = subprocess.run(
            [*command, "--visitors", str(visitors)],
            cwd=workdir,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=READY_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise BenchError("could not prepare the tenant:\n" + _tail(log))
    credentials: dict[str, Any] = orjson.loads(output.read_bytes())
    return credentials


# ---------------------------------------------------------------- requests


def specs(config: Config, creds: dict[str, Any]) -> tuple[RequestSpec, RequestSpec]:
    """The pipeline route's requests and the bare route's: the same but for the path."""
    sign_secret: str | None = None
    if config.flavour == "web":
        headers = tuple(
            {"Authorization": f"Bearer {token}", "Origin": creds["origin"]}
            for token in creds["visitor_tokens"]
        )
    elif config.flavour == "server":
        headers = ({"Authorization": f"Bearer {creds['access_token']}"},)
    else:
        headers, sign_secret = ({},), creds["api_secret"]
    path = creds["paths"][config.flavour]
    pipeline = RequestSpec(path=path, headers=headers, sign_secret=sign_secret)
    bare = RequestSpec(path="/echo", headers=headers, sign_secret=sign_secret)
    return pipeline, bare


def check(target: Server, config: Config, spec: RequestSpec, creds: dict[str, Any]) -> None:
    """One request through the pipeline before measuring: accepted, limited, CORS answered."""
    body = orjson.dumps({"text": "¿Cuánto cuesta una tienda en línea?", "client_id": "check-1"})
    headers = {**spec.headers[0], "Content-Type": "application/json"}
    if spec.sign_secret:
        headers.update(sign(signing_key(spec.sign_secret), "msg_check-1", body))
    response = httpx.post(f"{target.url}{spec.path}", content=body, headers=headers, timeout=10)
    problems = []
    if response.status_code != 200:
        problems.append(f"answered {response.status_code}: {response.text[:300]}")
    if response.headers.get("ratelimit-limit") != str(creds["limit_per_minute"]):
        problems.append(f"RateLimit-Limit is {response.headers.get('ratelimit-limit')!r}")
    if not response.headers.get("x-request-id"):
        problems.append("no X-Request-Id")
    if config.flavour == "web" and (
        response.headers.get("access-control-allow-origin") != creds["origin"]
    ):
        problems.append("no Access-Control-Allow-Origin for the allowed origin")
    if problems:
        raise BenchError(f"{config.label}: the pipeline route " + "; ".join(problems))


# ---------------------------------------------------------------- load


@dataclass
class Plan:
    duration: float
    connections: int
    rounds: int
    warmup: float
    server_cpu: int | None
    load_cpu: int | None
    configs: list[str]
    redis_url: str
    skipped: dict[str, str] = field(default_factory=dict)


def run_load(
    plan: Plan,
    target: Server,
    spec: RequestSpec,
    workdir: Path,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    """One load generator run against ``target``; its JSON result plus the server's CPU use."""
    spec_path = workdir / "spec.json"
    spec_path.write_bytes(orjson.dumps(spec.to_json()))
    command = [
        sys.executable,
        "-m",
        "bench.load",
        "request",
        "--url",
        target.url,
        "--spec",
        str(spec_path),
        "--connections",
        str(plan.connections),
        "--duration",
        str(plan.duration),
        "--warmup",
        str(plan.warmup),
        "--server-pid",
        str(target.process.pid),
    ]
    if plan.server_cpu is not None:
        command += ["--watch-cpu", str(plan.server_cpu)]
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
            if time.monotonic() - started > total + LOAD_GRACE:
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


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = [run["server_cpu"] for run in runs if run.get("server_cpu") is not None]
    per_op = [run["server_cpu_ms_per_op"] for run in runs if run.get("server_cpu_ms_per_op")]
    core = [run["core_busy"] for run in runs if run.get("core_busy") is not None]
    errors: dict[str, int] = {}
    for run in runs:
        for kind, count in run.get("error_kinds", {}).items():
            errors[kind] = errors.get(kind, 0) + count
    return {
        "throughput": statistics.median(run["throughput"] for run in runs),
        "latency_ms": {
            p: statistics.median(run["latency_ms"][p] for run in runs)
            for p in ("p50", "p90", "p99")
        },
        "count": sum(run["count"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "error_kinds": errors,
        "server_cpu": statistics.median(cpu) if cpu else None,
        "core_busy": statistics.median(core) if core else None,
        "generator_cpu": statistics.median(run["generator_cpu"] for run in runs),
        "server_cpu_ms_per_op": statistics.median(per_op) if per_op else None,
    }


def summarize(config: Config, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, the pipeline's ratios to the bare route, and the goals."""
    bare = _median([entry["bare"] for entry in rounds])
    pipeline = _median([entry["pipeline"] for entry in rounds])
    ratio = {
        "throughput": _ratio(pipeline["throughput"], bare["throughput"]),
        "p50": _ratio(pipeline["latency_ms"]["p50"], bare["latency_ms"]["p50"]),
        "p99": _ratio(pipeline["latency_ms"]["p99"], bare["latency_ms"]["p99"]),
        "server_cpu_per_op": _ratio(pipeline["server_cpu_ms_per_op"], bare["server_cpu_ms_per_op"]),
        # The throughput ratio both servers would show with a whole core each: the least
        # disturbed by other work on the machine, since both are CPU-bound.
        "throughput_by_cpu": _ratio(bare["server_cpu_ms_per_op"], pipeline["server_cpu_ms_per_op"]),
    }
    cost = (
        round((pipeline["server_cpu_ms_per_op"] - bare["server_cpu_ms_per_op"]) * 1000, 1)
        if pipeline["server_cpu_ms_per_op"] and bare["server_cpu_ms_per_op"]
        else None
    )
    throughput = ratio["throughput"]
    throughput_met = throughput is not None and throughput >= config.min_throughput
    p99_met = (
        None
        if config.max_p99 is None
        else ratio["p99"] is not None and ratio["p99"] <= config.max_p99
    )
    return {
        "bare": bare,
        "pipeline": pipeline,
        "ratio": ratio,
        "pipeline_cpu_us_per_request": cost,
        "goals": {
            "min_throughput_ratio": config.min_throughput,
            "max_p99_ratio": config.max_p99,
            "throughput_met": throughput_met,
            "p99_met": p99_met,
            "met": throughput_met and p99_met is not False,
        },
    }


def command_line(plan: Plan, update_docs: bool) -> str:
    parts = [
        ".venv/bin/python -m bench.pipeline",
        f"--duration {plan.duration:g}",
        f"--connections {plan.connections}",
        f"--rounds {plan.rounds}",
        f"--warmup {plan.warmup:g}",
    ]
    if plan.configs != list(CONFIGS):
        parts.append(f"--configs {','.join(plan.configs)}")
    if plan.redis_url != DEFAULT_REDIS:
        parts.append(f"--redis-url {plan.redis_url}")
    if update_docs:
        parts.append("--update-docs")
    return " ".join(parts)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _us(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms * 1000:,.0f}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def _goal_text(config: dict[str, Any]) -> str:
    goals = config["summary"]["goals"]
    text = f"≥ {goals['min_throughput_ratio']:.2f}× throughput"
    if goals["max_p99_ratio"] is not None:
        text += f", ≤ {goals['max_p99_ratio']:g}× p99"
    return text


def terminal_table(report: dict[str, Any]) -> Table:
    table = Table(
        title="Request pipeline vs the bare route (same requests, same run)",
        caption=(
            "ratio: pipeline / bare. µs/req: server CPU per request. srv: server CPU use; "
            "core: its core's use by all processes; load: load generator CPU use"
        ),
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    columns = ("run", "req/s", "p50 ms", "p99 ms", "err", "µs/req", "srv", "core", "load")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right", no_wrap=True)

    def cells(run: dict[str, Any]) -> list[str]:
        lat = run["latency_ms"]
        return [
            _fmt(run["throughput"], 0),
            _fmt(lat["p50"]),
            _fmt(lat["p99"]),
            str(run["errors"]),
            _us(run.get("server_cpu_ms_per_op")),
            _pct(run.get("server_cpu")),
            _pct(run.get("core_busy")),
            _pct(run.get("generator_cpu")),
        ]

    for name, config in report["configs"].items():
        table.add_section()
        table.add_row(name, style="bold")
        for entry in config["rounds"]:
            for side in ("bare", "pipeline"):
                table.add_row(f" {entry['round']} {side}", *cells(entry[side]), style="dim")
        summary = config["summary"]
        for side in ("bare", "pipeline"):
            table.add_row(f" median {side}", *cells(summary[side]))
        ratio = summary["ratio"]
        table.add_row(
            " ratio",
            _times(ratio["throughput"]),
            _times(ratio["p50"]),
            _times(ratio["p99"]),
            "",
            _times(ratio["server_cpu_per_op"]),
            style="bold green" if summary["goals"]["met"] else "bold red",
        )
    return table


def interference(report: dict[str, Any]) -> float | None:
    """The largest share of the server's core that other processes used during a run."""
    shares = [
        entry[side]["core_busy"] - (entry[side]["server_cpu"] or 0.0)
        for config in report["configs"].values()
        for entry in config["rounds"]
        for side in ("bare", "pipeline")
        if entry[side].get("core_busy") is not None
    ]
    return max(0.0, max(shares)) if shares else None


def _interference_note(report: dict[str, Any]) -> str:
    share = interference(report)
    if share is None:
        return ""
    return (
        f" Other processes on the machine took up to {_pct(share)} of the servers' core during "
        "a run (*server core busy* minus *server CPU*); the server CPU time per request is the "
        "figure they disturb least."
    )


def markdown(report: dict[str, Any]) -> str:
    """The results block of the pipeline section in ``docs/benchmarks.md``."""
    settings, host = report["settings"], report["machine"]
    pinning = report["pinning"]
    pinned = (
        f"server processes pinned to CPU {pinning['server_cpu']}, "
        f"load generator to CPU {pinning['load_cpu']}"
        if pinning
        else "processes not pinned"
    )
    redis = report["redis"]
    redis_note = (
        f" Redis {redis['version']} on the same machine (not pinned), database "
        f"`{redis['url'].rsplit('/', 1)[-1]}`."
        if redis["used"]
        else ""
    )
    lines = [
        f"Measured {report['timestamp'][:10]} on {host['nproc']} CPUs ({host['cpu_model']}), "
        f"{host['system'].split()[0]}, Python {host['python']}; {pinned}.{redis_note} "
        f"{settings['connections']} connections, {settings['warmup']:g} s warm-up then "
        f"{settings['duration']:g} s measured per run, median of {settings['rounds']} "
        f"round{'s' if settings['rounds'] != 1 else ''}." + _interference_note(report),
        "",
        "| Configuration | Throughput, bare → pipeline | Ratio | Ratio by server CPU "
        "| p99 ms, bare → pipeline | Ratio | Goal | Verdict |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for config in report["configs"].values():
        summary = config["summary"]
        bare, pipe, ratio = summary["bare"], summary["pipeline"], summary["ratio"]
        lines.append(
            f"| {config['label']} "
            f"| {_fmt(bare['throughput'], 0)} → {_fmt(pipe['throughput'], 0)} req/s "
            f"| **{_times(ratio['throughput'])}** | {_times(ratio['throughput_by_cpu'])} "
            f"| {_fmt(bare['latency_ms']['p99'], 1)} → {_fmt(pipe['latency_ms']['p99'], 1)} "
            f"| **{_times(ratio['p99'])}** | {_goal_text(config)} "
            f"| **{_verdict(summary['goals']['met'])}** |"
        )
    for name, reason in report["skipped"].items():
        lines.append(f"| {CONFIGS[name].label} | skipped: {reason} | | | | | | |")
    lines += [
        "",
        "| Configuration | Route | req/s | p50 ms | p90 ms | p99 ms | Errors "
        "| Server CPU µs per request | Server CPU | Server core busy | Load CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for config in report["configs"].values():
        summary = config["summary"]
        for side in ("bare", "pipeline"):
            run = summary[side]
            lat = run["latency_ms"]
            route = "bare `POST /echo`" if side == "bare" else f"`{config['route']}`"
            lines.append(
                f"| {config['label'] if side == 'bare' else ''} | {route} "
                f"| {_fmt(run['throughput'])} | {_fmt(lat['p50'], 2)} | {_fmt(lat['p90'], 2)} "
                f"| {_fmt(lat['p99'], 2)} | {run['errors']} | {_us(run['server_cpu_ms_per_op'])} "
                f"| {_pct(run['server_cpu'])} | {_pct(run.get('core_busy'))} "
                f"| {_pct(run['generator_cpu'])} |"
            )
    lines += ["", "Pipeline / bare throughput per round:"]
    for config in report["configs"].values():
        per_round = ", ".join(
            _times(_ratio(entry["pipeline"]["throughput"], entry["bare"]["throughput"]))
            for entry in config["rounds"]
        )
        cost = config["summary"]["pipeline_cpu_us_per_request"]
        lines.append(
            f"- {config['label']}: {per_round}; the pipeline's own CPU time: "
            f"{_fmt(cost, 0)} µs per request."
        )
    versions = ", ".join(f"{name} {version}" for name, version in host["packages"].items())
    lines += [
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


def update_docs(path: Path, block: str) -> None:
    """Rewrite the results block of the pipeline section (or the whole section, if it has none)."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if 0 <= text.find(RESULTS_START, start, end) < text.find(RESULTS_END, start, end):
        replace_block(path, RESULTS_START, RESULTS_END, block)
    else:
        replace_block(path, START_MARKER, END_MARKER, block)


def chart(report: dict[str, Any]) -> str:
    """An SVG bar chart: throughput and p99 ratios per configuration, with their goals."""
    width, left, scale, bar, gap = 820, 380, 150.0, 22, 8
    parts: list[str] = []
    y = 20
    panels = (("Throughput, pipeline / bare", "throughput"), ("p99, pipeline / bare", "p99"))
    for title, key in panels:
        parts.append(f'<text x="10" y="{y + 14}" font-weight="bold">{html.escape(title)}</text>')
        y += 26
        for config in report["configs"].values():
            summary = config["summary"]
            value = summary["ratio"][key] or 0.0
            goal = (
                summary["goals"]["min_throughput_ratio"]
                if key == "throughput"
                else summary["goals"]["max_p99_ratio"]
            )
            met = (
                summary["goals"]["throughput_met"]
                if key == "throughput"
                else summary["goals"]["p99_met"]
            )
            color = "#8c8c8c" if met is None else ("#2da44e" if met else "#cf222e")
            length = max(1.0, scale * min(value, 2.4))
            parts.append(
                f'<text x="10" y="{y + 16}">{html.escape(config["label"])}</text>'
                f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{color}"/>'
                f'<text x="{left + length + 6:.1f}" y="{y + 16}">{_times(value)}</text>'
            )
            if goal is not None:
                x = left + scale * goal
                parts.append(
                    f'<line x1="{x:.1f}" y1="{y - 2}" x2="{x:.1f}" y2="{y + bar + 2}" '
                    'stroke="black" stroke-dasharray="3,2"/>'
                )
            y += bar + gap
        y += 20
    parts.append(
        f'<text x="10" y="{y}" fill="#555">dashed line: the goal; green: met, red: not met</text>'
    )
    y += 16
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
        f'font-family="sans-serif" font-size="13">'
        f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>\n'
    )


def host_info() -> dict[str, Any]:
    info = machine()
    for package in EXTRA_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            info["packages"][package] = importlib.metadata.version(package)
    return info


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline",
        description="The request pipeline vs the same bare FastAPI route, under concurrent load.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every run (median)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per run")
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated, of: {', '.join(CONFIGS)} (default: all)",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="the Redis of the redis configuration"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results JSON file")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the Markdown file to update")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the results block in --docs"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--duration > 0, --connections >= 1, --rounds >= 1, --warmup >= 0")
    chosen = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(CONFIGS))
    if unknown or not chosen:
        parser.error(f"--configs: choose among {', '.join(CONFIGS)} (unknown: {unknown})")
    args.configs = [name for name in CONFIGS if name in chosen]
    return args


def bench(plan: Plan, console: Console, update: bool) -> dict[str, Any]:
    configs = [CONFIGS[name] for name in plan.configs]
    redis_used = False
    if any(config.server == "redis" for config in configs):
        problem = redis_problem(plan.redis_url)
        if problem is not None:
            console.print(
                f"[yellow]Redis at {plan.redis_url} is unreachable ({problem}): "
                "skipping the Redis limiter configuration[/]",
                highlight=False,
                soft_wrap=True,
            )
            for config in configs:
                if config.server == "redis":
                    plan.skipped[config.name] = f"Redis unreachable ({problem})"
            configs = [config for config in configs if config.server != "redis"]
        else:
            redis_used = True
    if not configs:
        raise BenchError("no configuration left to run")
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fd-pipeline-")))
        data_dir = workdir / "data"
        data_dir.mkdir()
        env = server_env(data_dir)
        servers: dict[str, Server] = {}
        with console.status("preparing the tenant and starting the servers"):
            creds = prepare(workdir, env, plan.connections)
            port = free_port()
            servers["bare"] = stack.enter_context(
                server(
                    "bare",
                    [sys.executable, "-m", "bench.baseline_app", "--port", str(port)],
                    port,
                    plan.server_cpu,
                    workdir,
                    env,
                    ("POST", "/echo"),
                )
            )
            # Each pipeline server gets its own copy of the prepared data directory (the same
            # keys, secrets and tenant), so that they never wait on each other's SQLite locks.
            for kind in sorted({config.server for config in configs}):
                port = free_port()
                kind_dir = workdir / f"data-{kind}"
                shutil.copytree(data_dir, kind_dir)
                kind_env = server_env(kind_dir)
                if kind == "redis":
                    kind_env["FRONTDESK_REDIS_URL"] = plan.redis_url
                servers[kind] = stack.enter_context(
                    server(
                        f"pipeline-{kind}",
                        [
                            sys.executable,
                            "-m",
                            "bench.pipeline_app",
                            "serve",
                            "--port",
                            str(port),
                        ],
                        port,
                        plan.server_cpu,
                        workdir,
                        kind_env,
                        ("GET", "/healthz"),
                    )
                )
            requests = {config.name: specs(config, creds) for config in configs}
            for config in configs:
                check(servers[config.server], config, requests[config.name][0], creds)
        rounds: dict[str, list[dict[str, Any]]] = {config.name: [] for config in configs}
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=4,
        )
        with progress:
            runs = plan.rounds * len(configs) * 2
            overall = progress.add_task("all runs", total=runs, detail=f"0/{runs} runs")
            done = 0
            for index in range(plan.rounds):
                order = ("bare", "pipeline") if index % 2 == 0 else ("pipeline", "bare")
                for config in configs:
                    pipeline_spec, bare_spec = requests[config.name]
                    entry: dict[str, Any] = {"round": index + 1, "order": list(order)}
                    for side in order:
                        target = servers["bare"] if side == "bare" else servers[config.server]
                        spec = bare_spec if side == "bare" else pipeline_spec
                        label = f"round {index + 1}/{plan.rounds} · {config.name} · {side}"
                        result = run_load(plan, target, spec, workdir, progress, label)
                        entry[side] = result
                        progress.console.print(
                            f"{label}: {_fmt(result['throughput'])} req/s, "
                            f"p50 {_fmt(result['latency_ms']['p50'], 2)} ms, "
                            f"p99 {_fmt(result['latency_ms']['p99'], 2)} ms, "
                            f"{result['errors']} errors, "
                            f"server CPU {_pct(result['server_cpu'])}",
                            highlight=False,
                        )
                        for kind, count in result.get("error_kinds", {}).items():
                            progress.console.print(
                                f"  {count} × {kind}", markup=False, highlight=False, style="red"
                            )
                        done += 1
                        progress.update(overall, completed=done, detail=f"{done}/{runs} runs")
                        time.sleep(SETTLE_SECONDS)
                    rounds[config.name].append(entry)
    for config in configs:
        for entry in rounds[config.name]:
            for side in ("bare", "pipeline"):
                if entry[side]["count"] == 0:
                    raise BenchError(
                        f"{config.name}, round {entry['round']}: no {side} request completed"
                    )
    return {
        "benchmark": "pipeline",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(plan, update),
        "settings": {
            "duration": plan.duration,
            "connections": plan.connections,
            "rounds": plan.rounds,
            "warmup": plan.warmup,
            "configs": plan.configs,
        },
        "pinning": (
            {"server_cpu": plan.server_cpu, "load_cpu": plan.load_cpu}
            if plan.server_cpu is not None
            else None
        ),
        "machine": host_info(),
        "redis": {
            "url": plan.redis_url,
            "used": redis_used,
            "version": redis_version(plan.redis_url) if redis_used else None,
        },
        "skipped": dict(plan.skipped),
        "configs": {
            config.name: {
                "label": config.label,
                "route": ROUTES[config.flavour],
                "limiter": config.server,
                "rounds": rounds[config.name],
                "summary": summarize(config, rounds[config.name]),
            }
            for config in configs
        },
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
    plan = Plan(
        args.duration,
        args.connections,
        args.rounds,
        args.warmup,
        server_cpu,
        load_cpu,
        args.configs,
        args.redis_url,
    )
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
    for name, config in report["configs"].items():
        summary = config["summary"]
        console.print(
            f"{name}: throughput {_times(summary['ratio']['throughput'])} "
            f"({_times(summary['ratio']['throughput_by_cpu'])} by server CPU), "
            f"p99 {_times(summary['ratio']['p99'])} ({_goal_text(config)}): "
            f"{_verdict(summary['goals']['met'])}; pipeline CPU "
            f"{_fmt(summary['pipeline_cpu_us_per_request'], 0)} µs per request",
            highlight=False,
            style="green" if summary["goals"]["met"] else "red",
        )
    for name, reason in report["skipped"].items():
        console.print(f"{name}: skipped: {reason}", highlight=False, style="yellow")
    share = interference(report)
    if share is not None and share > 0.1:
        console.print(
            f"note: other processes took up to {_pct(share)} of the servers' core during a run; "
            "compare the server CPU per request (µs/req), which they disturb least",
            highlight=False,
            style="yellow",
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
