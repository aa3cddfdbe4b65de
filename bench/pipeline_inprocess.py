"""The request pipeline driven in process: the ASGI apps called directly, no sockets.

Where the pipeline benchmark (:mod:`bench.pipeline`) measures whole servers under load, this
calls the bare app and the pipeline app directly on one event loop with the benchmark's own
requests, and reports the CPU time each request costs: the figure to watch while changing the
pipeline, immune to the scheduling noise of a shared machine. ``--profile`` prints a cProfile of
one flavour instead.

    python -m bench.pipeline_inprocess --requests 3000 --repeats 5
    python -m bench.pipeline_inprocess --profile web
    python -m bench.pipeline_inprocess --layers

``--layers`` splits the web route's cost: the same canned route with no dependency in an app of
its own (as an included router), then in Front Desk's app behind the whole ``Pipeline`` (its
CORS included), then with one and two dependencies that do nothing, then the real route.

``--instructions`` counts instructions instead of timing, the figure no other work on the
machine disturbs: each measured batch runs inside a call of the builtin ``ascii`` (and nothing
else in a request calls it), so callgrind counts exactly the batches, one dump each:

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=builtin_ascii \
        --dump-after=builtin_ascii --callgrind-out-file=cg.%p \
        .venv/bin/python -m bench.pipeline_inprocess --instructions --requests 100
    grep -h '^totals' cg.*.*     # one line per batch, in the order printed

The tenant and secret caches' clocks are held during the batches: under valgrind a batch takes
long enough for their 30-second entries to expire, which a server sees once per 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Any

import orjson
import uvloop
from fastapi import APIRouter, Depends, FastAPI, Request

from bench.baseline_app import reply
from bench.load import sign, signing_key
from frontdesk.conversations.schemas import MessageCreate, MessageOut

ROOT = Path(__file__).resolve().parent.parent
FLAVOURS = ("web", "server", "signed")
App = Any


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        FRONTDESK_DATA_DIR=str(data_dir),
        FRONTDESK_LOG_LEVEL="warning",
        FRONTDESK_IP_FLOOD_PER_MINUTE="1000000",
        PYTHONPATH=str(ROOT),
    )
    return env


def _prepare(data_dir: Path) -> dict[str, Any]:
    output = data_dir / "credentials.json"
    subprocess.run(
        [sys.executable, "-m", "bench.pipeline_app", "prepare", "--output", str(output)],
        env=_environment(data_dir),
        check=True,
        capture_output=True,
    )
    credentials: dict[str, Any] = orjson.loads(output.read_bytes())
    return credentials


class Sample:
    """One request, replayable against any ASGI app."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.body = body
        self.headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ]

    def scope(self, path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": list(self.headers),
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }


async def _call(app: App, request: Sample, path: str) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(request.scope(path), receive, send)
    return status


def _requests(flavour: str, creds: dict[str, Any], count: int, start: int = 0) -> list[Sample]:
    """``count`` requests of ``flavour``; signed ones carry message ids from ``start`` on (the
    replay guard accepts each id once, so every measurement needs its own)."""
    requests = []
    for n in range(start, start + count):
        body = orjson.dumps({"text": "¿Cuánto cuesta una tienda en línea?", "client_id": f"c{n}"})
        headers: dict[str, str] = {}
        if flavour == "web":
            token = creds["visitor_tokens"][n % len(creds["visitor_tokens"])]
            headers = {"authorization": f"Bearer {token}", "origin": creds["origin"]}
        elif flavour == "server":
            headers = {"authorization": f"Bearer {creds['access_token']}"}
        else:
            headers = sign(signing_key(creds["api_secret"]), f"msg_{n % 32}-{n}", body)
        requests.append(Sample(creds["paths"][flavour], headers, body))
    return requests


async def _cpu_per_request(app: App, requests: list[Sample], path: str | None) -> float:
    gc.collect()
    started = time.process_time()
    for request in requests:
        status = await _call(app, request, path or request.path)
        if status != 200:
            raise SystemExit(f"{path or request.path} answered {status}")
    return (time.process_time() - started) / len(requests) * 1e6


async def nothing(request: Request) -> int:
    """A dependency that does nothing (the ``--layers`` probes)."""
    return 1


async def nothing_else(request: Request) -> int:
    """A second one, so that FastAPI does not serve it from its per-request cache."""
    return 2


def _layer_probes(app: App) -> dict[str, str]:
    """Adds the ``--layers`` probe routes to ``app`` (first, like the benchmark's); returns
    their paths, with a bare app holding the first probe alone."""

    probes = APIRouter()

    @probes.post("/web/v1/{tenant}/probe/zero")
    async def zero(body: MessageCreate) -> MessageOut:
        return reply(body)

    @probes.post("/web/v1/{tenant}/probe/one")
    async def one(a: Annotated[int, Depends(nothing)], body: MessageCreate) -> MessageOut:
        return reply(body)

    @probes.post("/web/v1/{tenant}/probe/two")
    async def two(
        a: Annotated[int, Depends(nothing)],
        b: Annotated[int, Depends(nothing_else)],
        body: MessageCreate,
    ) -> MessageOut:
        return reply(body)

    app.include_router(probes)
    app.router.routes.insert(0, app.router.routes.pop())
    alone = FastAPI()
    alone.include_router(probes)
    app.state.probe_alone = alone
    return {name: f"/web/v1/{{tenant}}/probe/{name}" for name in ("zero", "one", "two")}


async def _layers(app: App, bare: App, creds: dict[str, Any], args: argparse.Namespace) -> None:
    paths = {k: v.format(tenant=creds["tenant"]) for k, v in app.state.probe_paths.items()}
    steps = [
        ("the bare route, alone in its app", bare, "/echo"),
        ("the same route in an included router", app.state.probe_alone, paths["zero"]),
        ("+ Front Desk's app and its Pipeline (CORS on)", app, paths["zero"]),
        ("+ one dependency doing nothing", app, paths["one"]),
        ("+ a second dependency doing nothing", app, paths["two"]),
        ("the web route through the whole pipeline", app, None),
    ]
    batch = itertools.count(1)
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for label, target, path in steps:
            requests = _requests("web", creds, args.requests, next(batch) * 1_000_000)
            runs.setdefault(label, []).append(await _cpu_per_request(target, requests, path))
    previous = None
    for label, values in runs.items():
        best = min(values)
        step = "" if previous is None else f"{best - previous:+7.1f}"
        print(f"{label:48} {best:7.1f} µs {step}")
        previous = best


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="frontdesk-inprocess-") as tmp:
        data_dir = Path(tmp)
        creds = _prepare(data_dir)
        os.environ.update(_environment(data_dir))
        from bench.baseline_app import app as bare
        from bench.pipeline_app import build
        from frontdesk.observability.logging import configure_logging
        from frontdesk.settings import Settings

        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        app = build(settings)
        if args.layers:
            app.state.probe_paths = _layer_probes(app)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 20)
            if args.layers:
                await _layers(app, bare, creds, args)
                return
            flavours = [args.profile] if args.profile else args.flavours.split(",")
            for flavour in flavours:
                batch = itertools.count(1)

                def fresh(count: int) -> list[Sample]:
                    return _requests(flavour, creds, count, next(batch) * 1_000_000)  # noqa: B023

                await _cpu_per_request(app, fresh(200), None)
                await _cpu_per_request(bare, fresh(200), "/echo")
                if args.profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    await _cpu_per_request(app, fresh(args.requests), None)
                    profiler.disable()
                    stats = pstats.Stats(profiler).sort_stats(args.sort)
                    stats.print_stats(args.lines)
                    continue
                pipeline_us, bare_us = [0.0], [0.0]
                for _ in range(args.repeats):
                    if args.only != "pipeline":
                        bare_us.append(await _cpu_per_request(bare, fresh(args.requests), "/echo"))
                    if args.only != "bare":
                        pipeline_us.append(await _cpu_per_request(app, fresh(args.requests), None))
                pipeline_us, bare_us = pipeline_us[1:] or [0.0], bare_us[1:] or [0.0]
                p, b = min(pipeline_us), min(bare_us)
                print(
                    f"{flavour:7} bare {b:6.1f} µs  pipeline {p:6.1f} µs  "
                    f"pipeline's own {p - b:6.1f} µs"
                )


class _Counted:
    """Runs a batch when ``ascii()`` asks for its representation (see ``--instructions``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, batch: Any) -> None:
        self.loop, self.batch = loop, batch

    def __repr__(self) -> str:
        self.loop.run_until_complete(self.batch)
        return "batch"


def instructions(args: argparse.Namespace) -> None:
    """The ``--instructions`` mode: bare and pipeline batches per flavour, each in ``ascii``."""
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="frontdesk-inprocess-") as tmp:
        creds = _prepare(Path(tmp))
        os.environ.update(_environment(Path(tmp)))
        from bench.baseline_app import app as bare
        from bench.pipeline_app import build
        from frontdesk.observability.logging import configure_logging
        from frontdesk.settings import Settings

        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        app = build(settings)
        lifespan = app.router.lifespan_context(app)
        loop.run_until_complete(lifespan.__aenter__())
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        batch = itertools.count(1)

        async def play(target: App, requests: list[Sample], path: str | None) -> None:
            for request in requests:
                status = await _call(target, request, path or request.path)
                if status != 200:
                    raise SystemExit(f"{path or request.path} answered {status}")

        targets = (("bare", bare, "/echo"), ("pipeline", app, None))
        order = []
        for flavour in args.flavours.split(","):
            for _, target, path in targets:
                warm = _requests(flavour, creds, 200, next(batch) * 1_000_000)
                loop.run_until_complete(play(target, warm, path))
            rt = app.state.runtime
            held = time.monotonic()
            rt.tenants._clock = rt.secrets._clock = lambda: held  # noqa: B023
            for name, target, path in targets:
                requests = _requests(flavour, creds, args.requests, next(batch) * 1_000_000)
                gc.collect()
                ascii(_Counted(loop, play(target, requests, path)))
                order.append(f"{flavour}:{name}")
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
    print(f"{args.requests} requests per batch, in this order:", " ".join(order))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_inprocess")
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="measurements; the least counts (others disturb it only upwards)",
    )
    parser.add_argument("--flavours", default=",".join(FLAVOURS))
    parser.add_argument("--profile", choices=FLAVOURS, help="print a cProfile of one flavour")
    parser.add_argument("--layers", action="store_true", help="split the web route's cost")
    parser.add_argument(
        "--only",
        choices=("bare", "pipeline"),
        help="measure one app only (to count instructions: run under valgrind with two "
        "--requests and divide the difference)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="mark each batch for callgrind to count (see the module's docstring)",
    )
    parser.add_argument("--sort", default="tottime", help="the profile's sort key")
    parser.add_argument("--lines", type=int, default=45, help="the profile's rows")
    args = parser.parse_args(argv)
    if args.instructions:
        instructions(args)
        return
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
