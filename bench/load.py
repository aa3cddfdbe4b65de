"""The load generator: a separate process that drives one server and prints its result as JSON.

Two modes, each with ``--connections`` virtual users running back to back for ``--warmup``
seconds (not counted) and then ``--duration`` seconds (measured):

* ``echo``: every user sends ``POST /echo`` on its own keep-alive connection; latency is the
  request's round trip.
* ``webchat``: every user starts a web chat conversation (not timed) and opens its event
  stream, then sends a message and waits for the reply to it on the stream, again and again;
  latency runs from the start of the ``POST`` to the arrival of the reply event.
* ``request``: every user sends ``POST`` requests described by a ``--spec`` file (path,
  headers per user, optionally a Standard Webhooks signature made for each request) on its own
  keep-alive connection; latency is the request's round trip.

A round trip counts when it completes inside the measured window. HTTP/1.1 is spoken directly
over asyncio streams with the ``httptools`` parser (and ``uvloop`` when installed), so the
generator is light enough that one core drives the bare route to its limit.

    python -m bench.load echo --url http://127.0.0.1:8001 --connections 32 --duration 10
    python -m bench.load request --url http://127.0.0.1:8002 --spec spec.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import math
import os
import resource
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httptools
import orjson

QUESTIONS: tuple[str, ...] = (
    "¿Cuánto cuesta una tienda en línea?",
    "How much does a website cost?",
    "Necesito una página web para mi empresa, ¿qué incluye?",
    "Do you build mobile apps for Android and iOS?",
    "¿Cuánto se demoran en entregar una landing page?",
    "Can you help my business rank higher on Google?",
    "¿Manejan publicidad en Google Ads y Meta Ads?",
    "What does the hosting and domain plan include?",
    "¿Ofrecen mantenimiento mensual para mi sitio web?",
    "I need a logo and a new brand identity, what are the prices?",
)
REPLY_TIMEOUT = 30.0
ERROR_PAUSE = 0.05
READ_SIZE = 65536


class HttpError(Exception):
    """A response that is not what the protocol expects (status, framing, closed socket)."""


@dataclass(slots=True)
class _Parsed:
    """httptools callbacks for one response."""

    on_chunk: Callable[[bytes], None] | None = None
    body: bytearray = field(default_factory=bytearray)
    headers_done: bool = False
    done: bool = False
    parser: Any = None
    keep_alive: bool = False

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # Asked now: once the message is complete the parser has reset for the next one and
        # would answer False for every response, closing (and reopening) each connection.
        if self.parser is not None:
            self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.on_chunk is not None:
            self.on_chunk(body)
        else:
            self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class Connection:
    """One keep-alive HTTP/1.1 connection: requests in lock step, or one streamed response."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    def _head(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host_header]
        lines.extend(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        if body is not None:
            lines.append(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        if body is not None:
            lines.append(body)
        return b"".join(lines)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send one request and read its whole response: ``(status, body)``."""
        reader, writer = await self._open()
        parsed = _Parsed()
        parser = httptools.HttpResponseParser(parsed)
        parsed.parser = parser
        try:
            writer.write(self._head(method, path, headers, body))
            while not parsed.done:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise HttpError("the server closed the connection")
                parser.feed_data(data)
        except BaseException:
            self.close()
            raise
        finally:
            parsed.parser = None
        if not parsed.keep_alive:
            self.close()
        return parser.get_status_code(), bytes(parsed.body)

    async def stream(
        self,
        path: str,
        headers: dict[str, str],
        on_chunk: Callable[[bytes], None],
        opened: asyncio.Event,
    ) -> None:
        """``GET`` a streamed response, passing each body chunk on until the stream ends."""
        reader, writer = await self._open()
        parsed = _Parsed(on_chunk=on_chunk)
        parser = httptools.HttpResponseParser(parsed)
        try:
            writer.write(self._head("GET", path, headers, None))
            while not parsed.done:
                data = await reader.read(READ_SIZE)
                if not data:
                    return
                parser.feed_data(data)
                if parsed.headers_done and not opened.is_set():
                    status = parser.get_status_code()
                    if status != 200:
                        raise HttpError(f"the event stream answered {status}")
                    opened.set()
        finally:
            self.close()


class SseDecoder:
    """Server-sent events from body chunks; calls ``on_event(event, data)`` per event."""

    def __init__(self, on_event: Callable[[str, str], None]) -> None:
        self._buffer = b""
        self._on_event = on_event

    def feed(self, chunk: bytes) -> None:
        # Normalising the whole buffer also joins a CR and LF split across two chunks.
        self._buffer = (self._buffer + chunk).replace(b"\r\n", b"\n")
        *blocks, self._buffer = self._buffer.split(b"\n\n")
        for block in blocks:
            event, data = "message", []
            for line in block.decode().split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
            if data:
                self._on_event(event, "\n".join(data))


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """What the ``request`` mode sends: ``POST path`` with a message body, ``headers[i]`` (cycled)
    on connection ``i``, each request signed with ``sign_secret`` (Standard Webhooks) if set, and
    ``expect`` as the only good status."""

    path: str
    headers: tuple[dict[str, str], ...] = ({},)
    sign_secret: str | None = None
    expect: int = 200

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestSpec:
        listed: list[dict[str, str]] = data.get("headers") or [{}]
        headers = tuple({str(k): str(v) for k, v in h.items()} for h in listed)
        return cls(
            path=str(data["path"]),
            headers=headers or ({},),
            sign_secret=data.get("sign_secret"),
            expect=int(data.get("expect", 200)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "headers": list(self.headers),
            "sign_secret": self.sign_secret,
            "expect": self.expect,
        }


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks ``whsec_<base64>`` secret."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(key: bytes, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``: HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``.

    Made here with the standard library (a few µs), so signing every request does not load the
    generator; the benchmark checks the server accepts it.
    """
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@dataclass(slots=True)
class Window:
    """The measured window on the ``perf_counter`` clock, and what landed in it."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, began: float, ended: float, error: str | None) -> None:
        if self.start <= ended <= self.end:
            if error is None:
                self.latencies.append(ended - began)
            else:
                self.errors[error] += 1


class Visitor:
    """One web chat visitor: a conversation, its event stream, and one message in flight."""

    def __init__(self, host: str, port: int, tenant: str, key: str, name: str) -> None:
        self._host, self._port = host, port
        self._prefix = f"/web/v1/{tenant}/conversations"
        self._key = key
        self._name = name
        self._posts = Connection(host, port)
        self._auth: dict[str, str] = {}
        self._path = ""
        self._replied = 0
        self._handoff = False
        self._changed = asyncio.Event()
        self._stream: asyncio.Task[None] | None = None
        self._sent = itertools.count()

    async def start(self) -> None:
        """A new conversation and its event stream (any previous one is dropped)."""
        self.stop()
        status, body = await self._posts.request(
            "POST", self._prefix, {"X-FrontDesk-Key": self._key}, b"{}"
        )
        if status != 200:
            raise HttpError(f"starting a conversation answered {status}: {body[:200]!r}")
        session: dict[str, Any] = orjson.loads(body)
        conversation = session["conversation"]
        self._auth = {"Authorization": f"Bearer {session['visitor_token']}"}
        self._path = f"{self._prefix}/{conversation['id']}"
        self._replied = int(conversation["last_seq"])
        self._handoff = False
        opened = asyncio.Event()
        decoder = SseDecoder(self._on_event)
        headers = {
            **self._auth,
            "Accept": "text/event-stream",
            "Last-Event-ID": str(self._replied),
        }
        stream = Connection(self._host, self._port)
        self._stream = asyncio.create_task(
            stream.stream(f"{self._path}/events", headers, decoder.feed, opened)
        )
        self._stream.add_done_callback(lambda _: self._changed.set())
        opened_wait = asyncio.ensure_future(opened.wait())
        await asyncio.wait({opened_wait, self._stream}, return_when=asyncio.FIRST_COMPLETED)
        opened_wait.cancel()
        if not opened.is_set():
            self._raise_stream_end()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def close(self) -> None:
        self.stop()
        self._posts.close()

    def _on_event(self, event: str, data: str) -> None:
        if event != "message":
            return
        message = orjson.loads(data)
        if message.get("direction") == "out":
            self._replied = max(self._replied, int(message["seq"]))
            payload = message.get("payload") or {}
            self._handoff = self._handoff or bool(payload.get("handoff"))
            self._changed.set()

    def _raise_stream_end(self) -> None:
        stream = self._stream
        error = stream.exception() if stream is not None and stream.done() else None
        raise HttpError(f"the event stream ended: {error or 'closed'}")

    async def round_trip(self, text: str) -> None:
        """Send ``text``; return once the reply to it has arrived on the stream."""
        if self._stream is None or self._stream.done() or self._handoff:
            # A conversation handed to a human gets no more automatic replies: start afresh.
            await self.start()
        body = orjson.dumps({"text": text, "client_id": f"{self._name}-{next(self._sent)}"})
        try:
            status, answer = await self._posts.request(
                "POST", f"{self._path}/messages", self._auth, body
            )
            if status != 202:
                raise HttpError(f"sending a message answered {status}: {answer[:200]!r}")
            seq = int(orjson.loads(answer)["seq"])
            async with asyncio.timeout(REPLY_TIMEOUT):
                while self._replied <= seq:
                    self._changed.clear()
                    if self._stream is None or self._stream.done():
                        self._raise_stream_end()
                    await self._changed.wait()
        except Exception:
            # The conversation is in an unknown state: the next attempt starts a new one.
            self.stop()
            raise


async def _user(
    window: Window, attempt: Callable[[str], Coroutine[Any, Any, None]], offset: int
) -> None:
    """Back-to-back attempts until the window closes, each recorded when it lands inside it."""
    for text in itertools.islice(itertools.cycle(QUESTIONS), offset, None):
        began = time.perf_counter()
        error = None
        try:
            await attempt(text)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        ended = time.perf_counter()
        window.record(began, ended, error)
        if ended >= window.end:
            return
        if error is not None:
            await asyncio.sleep(ERROR_PAUSE)


async def run(
    mode: str,
    url: str,
    connections: int,
    duration: float,
    warmup: float,
    tenant: str,
    key: str,
    server_pid: int | None = None,
    spec: RequestSpec | None = None,
    watch_cpu: int | None = None,
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    closers: list[Callable[[], None]] = []
    attempts: list[Callable[[str], Coroutine[Any, Any, None]]] = []
    if mode == "echo":
        for _ in range(connections):
            connection = Connection(host, port)
            closers.append(connection.close)
            attempts.append(_echo(connection, f"e{os.getpid()}"))
    elif mode == "request":
        if spec is None:
            raise ValueError("the request mode needs a spec")
        # Unique per run, so signed message ids are never replays of an earlier run's.
        run_id = f"r{os.getpid()}{secrets.token_hex(3)}"
        for index in range(connections):
            connection = Connection(host, port)
            closers.append(connection.close)
            headers = spec.headers[index % len(spec.headers)]
            attempts.append(_request(connection, spec, headers, f"{run_id}x{index}"))
    else:
        visitors = [
            Visitor(host, port, tenant, key, f"v{os.getpid()}-{i}") for i in range(connections)
        ]
        closers.extend(visitor.close for visitor in visitors)
        # Conversations and streams are opened before the clock starts: setup is not measured.
        await asyncio.gather(*(visitor.start() for visitor in visitors))
        attempts.extend(visitor.round_trip for visitor in visitors)

    try:
        return await measure(
            mode,
            attempts,
            duration=duration,
            warmup=warmup,
            server_pid=server_pid,
            watch_cpu=watch_cpu,
        )
    finally:
        for close in closers:
            close()


async def measure(
    mode: str,
    attempts: Sequence[Callable[[str], Coroutine[Any, Any, None]]],
    *,
    duration: float,
    warmup: float,
    server_pid: int | None = None,
    watch_cpu: int | None = None,
) -> dict[str, Any]:
    """Run each of ``attempts`` back to back as one virtual user, ``warmup`` seconds unmeasured
    then ``duration`` measured: the measured window's figures (with this process's CPU, the
    server's when ``server_pid`` is given, and how busy CPU ``watch_cpu`` was)."""
    _phase("warmup")
    begin = time.perf_counter()
    window = Window(start=begin + warmup, end=begin + warmup + duration)
    tasks = [asyncio.create_task(_user(window, attempt, i)) for i, attempt in enumerate(attempts)]
    try:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        _phase("measure")
        cpu_before, server_before = _cpu_seconds(), process_cpu_seconds(server_pid)
        core_before = core_jiffies(watch_cpu)
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        cpu_used, server_after = _cpu_seconds() - cpu_before, process_cpu_seconds(server_pid)
        core_after = core_jiffies(watch_cpu)
        _phase("done")
    finally:
        # Whatever is still in flight at the end cannot land inside the window any more.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return summarize(
        mode=mode,
        connections=len(attempts),
        duration=duration,
        warmup=warmup,
        latencies=window.latencies,
        errors=window.errors,
        cpu_seconds=cpu_used,
        server_cpu_seconds=(
            server_after - server_before
            if server_after is not None and server_before is not None
            else None
        ),
        core_busy=_busy_share(core_before, core_after),
    )


def _phase(name: str) -> None:
    """Tell the parent process (which watches stderr) where the run is."""
    sys.stderr.write(f"phase {name}\n")
    sys.stderr.flush()


def _echo(connection: Connection, name: str) -> Callable[[str], Coroutine[Any, Any, None]]:
    sent = itertools.count()

    async def attempt(text: str) -> None:
        body = orjson.dumps({"text": text, "client_id": f"{name}-{next(sent)}"})
        status, answer = await connection.request("POST", "/echo", {}, body)
        if status != 200 or not answer:
            raise HttpError(f"/echo answered {status}")

    return attempt


def _request(
    connection: Connection, spec: RequestSpec, headers: dict[str, str], name: str
) -> Callable[[str], Coroutine[Any, Any, None]]:
    sent = itertools.count()
    key = signing_key(spec.sign_secret) if spec.sign_secret else None

    async def attempt(text: str) -> None:
        number = next(sent)
        body = orjson.dumps({"text": text, "client_id": f"{name}-{number}"})
        extra = headers if key is None else {**headers, **sign(key, f"msg_{name}-{number}", body)}
        status, answer = await connection.request("POST", spec.path, extra, body)
        if status != spec.expect or not answer:
            raise HttpError(f"{spec.path} answered {status}{_problem_type(answer)}")

    return attempt


def _problem_type(body: bytes) -> str:
    """`` (/problems/…)`` from a problem+json body, to tell refusals apart in the error counts."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        kind = orjson.loads(body).get("type")
        if isinstance(kind, str):
            return f" ({kind[:80]})"
    return ""


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(
    *,
    mode: str,
    connections: int,
    duration: float,
    warmup: float,
    latencies: list[float],
    errors: Counter[str],
    cpu_seconds: float,
    server_cpu_seconds: float | None = None,
    core_busy: float | None = None,
) -> dict[str, Any]:
    ordered = sorted(latencies)
    count = len(ordered)

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    return {
        "mode": mode,
        "connections": connections,
        "duration": duration,
        "warmup": warmup,
        "count": count,
        "errors": errors.total(),
        "error_kinds": dict(errors.most_common(5)),
        "throughput": round(count / duration, 2),
        "latency_ms": {
            "p50": ms(percentile(ordered, 0.50)),
            "p90": ms(percentile(ordered, 0.90)),
            "p99": ms(percentile(ordered, 0.99)),
            "mean": ms(sum(ordered) / count) if count else 0.0,
            "max": ms(ordered[-1]) if count else 0.0,
        },
        # Share of one core the generator used while measuring: near 1.0 means it was the limit.
        "generator_cpu": round(cpu_seconds / duration, 3),
        # The same for the server, when its process id was given, and per completed operation.
        "server_cpu": (
            round(server_cpu_seconds / duration, 3) if server_cpu_seconds is not None else None
        ),
        "server_cpu_ms_per_op": (
            round(server_cpu_seconds * 1000 / count, 3)
            if server_cpu_seconds is not None and count
            else None
        ),
        # How busy the server's CPU was, all processes together (when watched): well above
        # ``server_cpu``, other work on the machine took the server's core.
        "core_busy": round(core_busy, 3) if core_busy is not None else None,
    }


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (all its threads), from ``/proc``; None if unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_jiffies(cpu: int | None) -> tuple[int, int] | None:
    """(busy, total) clock ticks of one CPU since boot, from ``/proc/stat``; None if unknown."""
    if cpu is None:
        return None
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{cpu} "):
                    ticks = [int(value) for value in line.split()[1:]]
                    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
                    return sum(ticks[:8]) - idle, sum(ticks[:8])
    except (OSError, ValueError):
        return None
    return None


def _busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description="Drive one server; print the result as JSON."
    )
    parser.add_argument("mode", choices=("echo", "webchat", "request"))
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8001")
    parser.add_argument("--connections", type=int, default=32, help="virtual users")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds run before measuring")
    parser.add_argument("--tenant", default="colombiatic", help="web chat tenant slug")
    parser.add_argument("--key", default="", help="the tenant's publishable key (webchat)")
    parser.add_argument(
        "--spec", type=Path, default=None, help="what the request mode sends (a JSON file)"
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument(
        "--server-pid", type=int, default=None, help="report this process's CPU use too"
    )
    parser.add_argument(
        "--watch-cpu", type=int, default=None, help="report how busy this CPU was (all processes)"
    )
    args = parser.parse_args(argv)
    if args.connections < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--connections must be >= 1, --duration > 0 and --warmup >= 0")
    if args.mode == "webchat" and not args.key:
        parser.error("webchat needs --key")
    if args.mode == "request" and args.spec is None:
        parser.error("request needs --spec")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    work = run(
        args.mode,
        args.url,
        args.connections,
        args.duration,
        args.warmup,
        args.tenant,
        args.key,
        args.server_pid,
        RequestSpec.from_json(orjson.loads(args.spec.read_bytes())) if args.spec else None,
        args.watch_cpu,
    )
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            result = runner.run(work)
        except (OSError, HttpError) as exc:
            sys.stderr.write(f"load: {type(exc).__name__}: {exc}\n")
            return 1
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
