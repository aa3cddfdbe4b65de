"""Webhook ingestion benchmark: WhatsApp notifications stored on PostgreSQL, against a bare route.

Creates a fresh PostgreSQL database (``frontdesk_bench_<random>``, dropped at the end however
the run ends), migrates it as its owner and connects the app as a role that neither owns the
tables nor bypasses row-level security, as the tests do. Registers a tenant with a WhatsApp
connection, then starts, side by side and pinned to the same core:

* ``bench.ingest_app serve`` — the real app (``create_app``): ``POST /webhooks/whatsapp``
  parses the notification, finds the tenant by phone-number id, checks ``X-Hub-Signature-256``
  with the connection's app secret, stores the message once (deduplicated on its ``wamid``)
  in the contact's conversation with its ``engine.decide`` job, commits, answers 200. Its job
  runner is off (``FRONTDESK_RUN_JOBS=false``): ingestion is what is measured.
* ``bench.ingest_app bare`` — a bare FastAPI route taking the same notification as a pydantic
  request model and answering at once.

For ``--rounds`` rounds a load generator process (``python -m bench.ingest load``, pinned to
the other core) drives each server in turn, the order alternating: ``--connections``
keep-alive connections, each sending Meta-shaped notifications (one text message, a unique
``wamid`` per request, the sender one of ``--contacts`` customers, signed with the app secret)
back to back: first one notification from each of the ``--contacts`` senders (so that every
customer has written before and the measured runs see the steady state, not first contacts),
then ``--warmup`` seconds unmeasured, then ``--seconds`` measured. Both servers get the
very same kind of bytes. Medians over the rounds are checked against the goals (≥ 45 % of the
bare route's throughput, p99 acknowledgement ≤ 50 ms). Results go to ``bench/results/ingest.json``
and, with ``--update-docs``, into ``docs/benchmarks.md``.

    python -m bench.ingest --rounds 3 --seconds 10 --update-docs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import httpx
import orjson

from bench.load import (
    QUESTIONS,
    Connection,
    HttpError,
    _loop_factory,
    _problem_type,
    measure,
)
from bench.pipeline import _median, _ratio, _times, _us, _verdict
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
RESULTS = ROOT / "bench" / "results" / "ingest.json"
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS_START = "<!-- ingest:results:start -->"
RESULTS_END = "<!-- ingest:results:end -->"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ROLE = "frontdesk_app"
PATH = "/webhooks/whatsapp"
MIN_THROUGHPUT_RATIO = 0.45
MAX_P99_MS = 50.0
READY_TIMEOUT = 60.0
SETTLE_SECONDS = 1.0
LOAD_GRACE = 120.0
LIMIT_PER_MINUTE = 1_000_000
EXTRA_PACKAGES = ("asyncpg", "orjson")


# ---------------------------------------------------------------- the load generator


@dataclass(frozen=True, slots=True)
class Notifications:
    """Meta-shaped notifications for one phone-number id, each signed with the app secret."""

    phone_number_id: str
    app_secret: str
    contacts: int
    run: str

    def sender(self, connection: int, number: int) -> int:
        # Spread over the contacts so that each conversation comes back now and then, as a
        # customer's next message does.
        return (connection * 7919 + number * 104_729) % self.contacts

    def body(self, connection: int, number: int, now: int) -> bytes:
        customer, wamid = self.sender(connection, number), f"wamid.{self.run}.{connection}.{number}"
        return self.from_customer(customer, wamid, connection + number, now)

    def first_contact(self, customer: int, now: int) -> bytes:
        """A notification from ``customer`` with a wamid of its own, for the warm-up."""
        return self.from_customer(customer, f"wamid.{self.run}.first.{customer}", customer, now)

    def from_customer(self, customer: int, wamid: str, question: int, now: int) -> bytes:
        wa_id = f"57300{customer:07d}"
        message = {
            "from": wa_id,
            "id": wamid,
            "timestamp": str(now),
            "type": "text",
            "text": {"body": QUESTIONS[question % len(QUESTIONS)]},
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "573000000000",
                "phone_number_id": self.phone_number_id,
            },
            "contacts": [{"profile": {"name": f"Cliente {customer}"}, "wa_id": wa_id}],
            "messages": [message],
        }
        return orjson.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
                ],
            }
        )

    def headers(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}"}


async def _send(connection: Connection, notifications: Notifications, body: bytes) -> None:
    status, answer = await connection.request("POST", PATH, notifications.headers(body), body)
    if status != 200:
        raise HttpError(f"{PATH} answered {status}{_problem_type(answer)}")
    if orjson.loads(answer).get("messages") != 1:
        raise HttpError(f"{PATH} stored no new message: {answer[:120]!r}")


def _sender(
    connection: Connection, notifications: Notifications, index: int
) -> Callable[[str], Coroutine[Any, Any, None]]:
    sent = itertools.count()

    async def attempt(_text: str) -> None:
        body = notifications.body(index, next(sent), int(time.time()))
        await _send(connection, notifications, body)

    return attempt


async def first_contacts(links: Sequence[Connection], notifications: Notifications) -> None:
    """One notification from every sender, before the timed warm-up: the first message of a
    customer makes the contact and the conversation, which the steady state does not."""
    now = int(time.time())

    async def send_from(index: int, link: Connection) -> None:
        for customer in range(index, notifications.contacts, len(links)):
            await _send(link, notifications, notifications.first_contact(customer, now))

    await asyncio.gather(*(send_from(index, link) for index, link in enumerate(links)))


async def drive(
    url: str,
    notifications: Notifications,
    *,
    connections: int,
    duration: float,
    warmup: float,
    server_pid: int | None,
    watch_cpu: int | None,
) -> dict[str, Any]:
    """``connections`` keep-alive connections posting back to back; the measured window's
    figures (as ``bench.load`` reports them)."""
    host, port = url.removeprefix("http://").split(":")
    links = [Connection(host, int(port)) for _ in range(connections)]
    try:
        await first_contacts(links, notifications)
        return await measure(
            "ingest",
            [_sender(link, notifications, i) for i, link in enumerate(links)],
            duration=duration,
            warmup=warmup,
            server_pid=server_pid,
            watch_cpu=watch_cpu,
        )
    finally:
        for link in links:
            link.close()


def load_main(args: argparse.Namespace) -> int:
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    spec = orjson.loads(args.spec.read_bytes())
    notifications = Notifications(
        phone_number_id=spec["phone_number_id"],
        app_secret=spec["app_secret"],
        contacts=int(spec["contacts"]),
        # Unique per run: every run's wamids are new to the store.
        run=f"r{os.getpid()}{secrets.token_hex(3)}",
    )
    work = drive(
        args.url,
        notifications,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        server_pid=args.server_pid,
        watch_cpu=args.watch_cpu,
    )
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            result = runner.run(work)
        except (OSError, HttpError) as exc:
            sys.stderr.write(f"load: {type(exc).__name__}: {exc}\n")
            return 1
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


# ---------------------------------------------------------------- the database


def _database_url(base: str, name: str, user: str | None = None) -> str:
    """``base`` (a ``postgresql://`` URL) for database ``name`` (and ``user``), asyncpg flavour."""
    url = base.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + f"/{name}"
    if user is not None:
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://{user}@{rest.split('@', 1)[-1]}"
    return url


async def _admin(base: str, sql: str) -> None:
    connection = await asyncpg.connect(base)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_database(base: str) -> Iterator[tuple[str, str]]:
    """A new database, migrated as its owner and granted to the app's role (RLS applies to it),
    dropped afterwards: ``(owner URL, app URL)``."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from frontdesk.store import migrate
    from frontdesk.store.roles import grant_app_role

    name = f"frontdesk_bench_{secrets.token_hex(4)}"
    try:
        asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create a database on {base.split('@')[-1]}: {exc}") from exc
    try:
        owner = _database_url(base, name)
        migrate.upgrade(owner)

        async def grant() -> None:
            await _admin(
                base,
                f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
                f"THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$",
            )
            engine = create_async_engine(owner)
            try:
                await grant_app_role(engine, APP_ROLE)
            finally:
                await engine.dispose()

        asyncio.run(grant())
        yield owner, _database_url(base, name, APP_ROLE)
    finally:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def analyze(owner_url: str) -> None:
    """Refresh the planner's statistics, as autovacuum does on a live database (it may be
    off on a benchmark machine's PostgreSQL, and a fresh database has none)."""
    connection = await asyncpg.connect(owner_url.replace("+asyncpg", ""))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def stored(owner_url: str) -> dict[str, int]:
    """What the run left in the store (counted as the owner, across tenants)."""
    connection = await asyncpg.connect(owner_url.replace("+asyncpg", ""))
    try:
        row = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM messages) AS messages,"
            " (SELECT count(DISTINCT external_id) FROM messages) AS distinct_ids,"
            " (SELECT count(*) FROM outbox_jobs WHERE kind = 'engine.decide') AS decide_jobs,"
            " (SELECT count(*) FROM conversations) AS conversations,"
            " (SELECT count(*) FROM contacts) AS contacts"
        )
    finally:
        await connection.close()
    return {key: int(value) for key, value in dict(row).items()}


# ---------------------------------------------------------------- processes


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def server(
    name: str, port: int, cpu: int | None, workdir: Path, env: dict[str, str], ready: str
) -> Iterator[Server]:
    """``bench.ingest_app <name>`` until the block ends, however it ends; yields once ``ready``
    answers 200."""
    log = workdir / f"{name}.log"
    command = [sys.executable, "-m", "bench.ingest_app", name, "--port", str(port)]
    with log.open("wb") as sink:
        process = spawn(command, cpu, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
    running = Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(base_url=running.url, timeout=2) as http:
            while True:
                if process.poll() is not None:
                    raise BenchError(
                        f"the {name} server exited with code {process.returncode}:\n" + _tail(log)
                    )
                with contextlib.suppress(httpx.TransportError):
                    if http.get(ready).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"the {name} server did not answer in time:\n" + _tail(log))
                time.sleep(0.1)
        yield running
    finally:
        stop(process)


def server_env(data_dir: Path, database_url: str, pool: int) -> dict[str, str]:
    """The caller's environment without its Front Desk settings, plus the benchmark's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        FRONTDESK_DATA_DIR=str(data_dir),
        FRONTDESK_DATABASE_URL=database_url,
        FRONTDESK_DB_POOL_SIZE=str(pool),
        FRONTDESK_LOG_LEVEL="warning",
        FRONTDESK_SEED_OWNER="false",
        # The decide jobs are left to worker processes: ingestion alone is measured.
        FRONTDESK_RUN_JOBS="false",
        # All the load comes from one address: the pre-auth flood limit must not stop it.
        FRONTDESK_IP_FLOOD_PER_MINUTE=str(LIMIT_PER_MINUTE),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def check(target: Server, tenant: dict[str, Any]) -> None:
    """Before measuring: a signed notification is stored, its retry is a duplicate, a wrong
    signature is refused."""
    notifications = Notifications(tenant["phone_number_id"], tenant["app_secret"], 1, "check")
    body = notifications.body(0, 0, int(time.time()))
    headers = {**notifications.headers(body), "Content-Type": "application/json"}
    problems = []
    with httpx.Client(base_url=target.url, timeout=10) as http:
        first = http.post(PATH, content=body, headers=headers)
        again = http.post(PATH, content=body, headers=headers)
        forged = http.post(
            PATH, content=body, headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
        )
    if first.status_code != 200 or first.json().get("messages") != 1:
        problems.append(f"a notification answered {first.status_code}: {first.text[:300]}")
    if again.status_code != 200 or again.json().get("duplicates") != 1:
        problems.append(f"its retry answered {again.status_code}: {again.text[:300]}")
    if forged.status_code not in (401, 403):
        problems.append(f"a forged signature answered {forged.status_code}")
    if problems:
        raise BenchError("the webhook route: " + "; ".join(problems))


# ---------------------------------------------------------------- load runs


@dataclass
class Plan:
    seconds: float
    connections: int
    rounds: int
    warmup: float
    contacts: int
    pool: int
    server_cpu: int | None
    load_cpu: int | None
    postgres: str


def run_load(plan: Plan, target: Server, spec: Path, workdir: Path) -> dict[str, Any]:
    """One load generator run against ``target``: its JSON result."""
    command = [
        sys.executable,
        "-m",
        "bench.ingest",
        "load",
        "--url",
        target.url,
        "--spec",
        str(spec),
        "--connections",
        str(plan.connections),
        "--duration",
        str(plan.seconds),
        "--warmup",
        str(plan.warmup),
        "--server-pid",
        str(target.process.pid),
    ]
    if plan.server_cpu is not None:
        command += ["--watch-cpu", str(plan.server_cpu)]
    out_path, err_path = workdir / "load.out", workdir / "load.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = spawn(command, plan.load_cpu, cwd=ROOT, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + plan.warmup + plan.seconds + LOAD_GRACE
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise BenchError("the load generator did not finish")
            if target.process.poll() is not None:
                raise BenchError(f"the {target.name} server died:\n" + _tail(target.log))
            time.sleep(0.1)
    finally:
        stop(process)
    if process.returncode != 0:
        raise BenchError("the load generator failed:\n" + _tail(err_path))
    result: dict[str, Any] = orjson.loads(out_path.read_bytes())
    return result


# ---------------------------------------------------------------- results


def summarize_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, the ingestion's ratios to the bare route, and the goals."""
    bare = _median([entry["bare"] for entry in rounds])
    ingest = _median([entry["ingest"] for entry in rounds])
    ratio = {
        "throughput": _ratio(ingest["throughput"], bare["throughput"]),
        "p99": _ratio(ingest["latency_ms"]["p99"], bare["latency_ms"]["p99"]),
        "server_cpu_per_op": _ratio(ingest["server_cpu_ms_per_op"], bare["server_cpu_ms_per_op"]),
        # The throughput ratio both would show with a whole core each: the figure other work
        # on the machine disturbs least, since both servers are CPU-bound.
        "throughput_by_cpu": _ratio(bare["server_cpu_ms_per_op"], ingest["server_cpu_ms_per_op"]),
    }
    throughput_met = ratio["throughput"] is not None and ratio["throughput"] >= MIN_THROUGHPUT_RATIO
    p99_met = ingest["latency_ms"]["p99"] <= MAX_P99_MS
    return {
        "bare": bare,
        "ingest": ingest,
        "ratio": ratio,
        "goals": {
            "min_throughput_ratio": MIN_THROUGHPUT_RATIO,
            "max_p99_ms": MAX_P99_MS,
            "throughput_met": throughput_met,
            "p99_met": p99_met,
            "met": throughput_met and p99_met,
        },
    }


def command_line(plan: Plan, update_docs: bool) -> str:
    parts = [
        ".venv/bin/python -m bench.ingest",
        f"--rounds {plan.rounds}",
        f"--seconds {plan.seconds:g}",
        f"--warmup {plan.warmup:g}",
        f"--connections {plan.connections}",
        f"--contacts {plan.contacts}",
        f"--pool {plan.pool}",
    ]
    if update_docs:
        parts.append("--update-docs")
    return " ".join(parts)


def markdown(report: dict[str, Any]) -> str:
    """The results block of the ingestion section in ``docs/benchmarks.md``."""
    settings, host, summary = report["settings"], report["machine"], report["summary"]
    pinning = report["pinning"]
    pinned = (
        f"server processes pinned to CPU {pinning['server_cpu']}, "
        f"load generator to CPU {pinning['load_cpu']}, PostgreSQL not pinned"
        if pinning
        else "processes not pinned"
    )
    bare, ingest, ratio, goals = (
        summary["bare"],
        summary["ingest"],
        summary["ratio"],
        summary["goals"],
    )
    kept = report["stored"]
    lines = [
        f"Measured {report['timestamp'][:10]} on {host['nproc']} CPUs ({host['cpu_model']}), "
        f"{host['system'].split()[0]}, Python {host['python']}, PostgreSQL "
        f"{report['postgres_version']} on the same machine; {pinned}. "
        f"{settings['connections']} connections, senders spread over {settings['contacts']:,} "
        f"contacts, database pool of {settings['pool']}; {settings['warmup']:g} s warm-up then "
        f"{settings['seconds']:g} s measured per run, median of {settings['rounds']} "
        f"round{'s' if settings['rounds'] != 1 else ''}.",
        "",
        "| | req/s | p50 ms | p90 ms | p99 ms | Errors | Server CPU µs per request "
        "| Server CPU | Server core busy | Load CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run in (
        ("Bare FastAPI route (same notification as a pydantic model)", bare),
        ("Front Desk `POST /webhooks/whatsapp` (stored on PostgreSQL)", ingest),
    ):
        lat = run["latency_ms"]
        lines.append(
            f"| {label} | {_fmt(run['throughput'])} | {_fmt(lat['p50'], 2)} "
            f"| {_fmt(lat['p90'], 2)} | {_fmt(lat['p99'], 2)} | {run['errors']} "
            f"| {_us(run['server_cpu_ms_per_op'])} | {_pct(run['server_cpu'])} "
            f"| {_pct(run['core_busy'])} | {_pct(run['generator_cpu'])} |"
        )
    per_round = ", ".join(
        _times(_ratio(entry["ingest"]["throughput"], entry["bare"]["throughput"]))
        for entry in report["rounds"]
    )
    versions = ", ".join(f"{name} {version}" for name, version in host["packages"].items())
    lines += [
        "",
        "| Goal | Measured | Verdict |",
        "|---|---:|---|",
        f"| throughput ≥ {MIN_THROUGHPUT_RATIO:.2f}× the bare route's "
        f"| **{_times(ratio['throughput'])}** ({_times(ratio['throughput_by_cpu'])} by server "
        f"CPU) | **{_verdict(goals['throughput_met'])}** |",
        f"| p99 acknowledgement ≤ {MAX_P99_MS:g} ms "
        f"| **{_fmt(ingest['latency_ms']['p99'], 1)} ms** | **{_verdict(goals['p99_met'])}** |",
        "",
        f"Front Desk / bare throughput per round: {per_round}. Server CPU per request: "
        f"{_times(ratio['server_cpu_per_op'])} the bare route's. Stored at the end: "
        f"{kept['messages']:,} messages ({kept['distinct_ids']:,} distinct provider ids), "
        f"{kept['decide_jobs']:,} `engine.decide` jobs, {kept['conversations']:,} "
        f"conversations of {kept['contacts']:,} contacts.",
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
    """Rewrite the block between the ingestion results markers."""
    replace_block(path, RESULTS_START, RESULTS_END, block)


# ---------------------------------------------------------------- main


def bench(plan: Plan, update: bool) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fd-ingest-")))
        data_dir = workdir / "data"
        data_dir.mkdir()
        print("creating and migrating the database", flush=True)
        owner_url, app_url = stack.enter_context(fresh_database(plan.postgres))
        env = server_env(data_dir, app_url, plan.pool)
        env["FRONTDESK_SECRET_KEY"] = secrets.token_hex(32)
        prepared = workdir / "tenant.json"
        done = subprocess.run(
            [sys.executable, "-m", "bench.ingest_app", "prepare", "--output", str(prepared)],
            cwd=workdir,
            env=env,
            capture_output=True,
            timeout=READY_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError("could not prepare the tenant:\n" + done.stderr.decode()[-4000:])
        tenant: dict[str, Any] = orjson.loads(prepared.read_bytes())
        spec = workdir / "spec.json"
        spec.write_bytes(orjson.dumps({**tenant, "contacts": plan.contacts}))
        servers = {
            side: stack.enter_context(
                server(name, free_port(), plan.server_cpu, workdir, env, ready)
            )
            for side, name, ready in (
                ("bare", "bare", "/openapi.json"),
                ("ingest", "serve", "/healthz"),
            )
        }
        check(servers["ingest"], tenant)
        # Every sender writes once before the first measured run, so that the statistics
        # analyzed before each measured run of Front Desk describe a store of returning
        # customers (analyzed on an empty store, the planner reads whole tables).
        print("every sender writes once", flush=True)
        run_load(replace(plan, seconds=1.0, warmup=0.0), servers["ingest"], spec, workdir)
        rounds: list[dict[str, Any]] = []
        for index in range(plan.rounds):
            order = ("bare", "ingest") if index % 2 == 0 else ("ingest", "bare")
            entry: dict[str, Any] = {"round": index + 1, "order": list(order)}
            for side in order:
                if side == "ingest":
                    asyncio.run(analyze(owner_url))
                result = run_load(plan, servers[side], spec, workdir)
                entry[side] = result
                print(
                    f"round {index + 1}/{plan.rounds} · {side}: "
                    f"{_fmt(result['throughput'])} req/s, "
                    f"p50 {_fmt(result['latency_ms']['p50'], 2)} ms, "
                    f"p99 {_fmt(result['latency_ms']['p99'], 2)} ms, "
                    f"{result['errors']} errors, server CPU {_pct(result['server_cpu'])}, "
                    f"{_us(result['server_cpu_ms_per_op'])} µs/req",
                    flush=True,
                )
                for kind, count in result.get("error_kinds", {}).items():
                    print(f"  {count} × {kind}", flush=True)
                if result["count"] == 0:
                    raise BenchError(f"round {index + 1}: no {side} request completed")
                time.sleep(SETTLE_SECONDS)
            rounds.append(entry)
        kept = asyncio.run(stored(owner_url))
        version = asyncio.run(_server_version(plan.postgres))
    host = machine()
    host["database"] = "PostgreSQL"
    for package in EXTRA_PACKAGES:
        with contextlib.suppress(Exception):
            import importlib.metadata

            host["packages"][package] = importlib.metadata.version(package)
    return {
        "benchmark": "ingest",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(plan, update),
        "settings": {
            "seconds": plan.seconds,
            "connections": plan.connections,
            "rounds": plan.rounds,
            "warmup": plan.warmup,
            "contacts": plan.contacts,
            "pool": plan.pool,
        },
        "pinning": (
            {"server_cpu": plan.server_cpu, "load_cpu": plan.load_cpu}
            if plan.server_cpu is not None
            else None
        ),
        "machine": host,
        "postgres_version": version,
        "stored": kept,
        "rounds": rounds,
        "summary": summarize_rounds(rounds),
    }


async def _server_version(base: str) -> str:
    connection = await asyncpg.connect(base)
    try:
        return str(await connection.fetchval("SHOW server_version")).split()[0]
    finally:
        await connection.close()


def _terminate(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="WhatsApp webhook ingestion on PostgreSQL vs a bare FastAPI route.",
    )
    commands = parser.add_subparsers(dest="command")
    load = commands.add_parser("load", help="(internal) the load generator of one run")
    load.add_argument("--url", required=True)
    load.add_argument("--spec", type=Path, required=True)
    load.add_argument("--connections", type=int, default=64)
    load.add_argument("--duration", type=float, default=10.0)
    load.add_argument("--warmup", type=float, default=2.0)
    load.add_argument("--cpu", type=int, default=None)
    load.add_argument("--server-pid", type=int, default=None)
    load.add_argument("--watch-cpu", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both servers (median)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per run")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--contacts", type=int, default=1000, help="distinct senders")
    parser.add_argument("--pool", type=int, default=10, help="the app's database pool size")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="a superuser's URL")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the results JSON file")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the Markdown file to update")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the results block")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    args = parser.parse_args(argv)
    if args.command is None and (
        args.seconds <= 0
        or args.rounds < 1
        or args.warmup < 0
        or args.connections < 1
        or args.contacts < 1
        or args.pool < 1
    ):
        parser.error(
            "--seconds > 0, --warmup >= 0; --rounds, --connections, --contacts, --pool >= 1"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "load":
        return load_main(args)
    server_cpu, load_cpu = cpus(args.no_pin)
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})
    plan = Plan(
        seconds=args.seconds,
        connections=args.connections,
        rounds=args.rounds,
        warmup=args.warmup,
        contacts=args.contacts,
        pool=args.pool,
        server_cpu=server_cpu,
        load_cpu=load_cpu,
        postgres=args.postgres,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = bench(plan, args.update_docs)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: servers stopped, database dropped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    summary = report["summary"]
    goals = summary["goals"]
    print(
        f"throughput {_times(summary['ratio']['throughput'])} of the bare route "
        f"({_times(summary['ratio']['throughput_by_cpu'])} by server CPU; goal "
        f"≥ {MIN_THROUGHPUT_RATIO:.2f}×): {_verdict(goals['throughput_met'])}; "
        f"p99 {_fmt(summary['ingest']['latency_ms']['p99'], 1)} ms (goal ≤ {MAX_P99_MS:g} ms): "
        f"{_verdict(goals['p99_met'])}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"results written to {args.output}")
    if args.update_docs:
        try:
            update_docs(args.docs, markdown(report))
        except (BenchError, OSError) as exc:
            print(f"docs not updated: {exc}", file=sys.stderr)
            return 1
        print(f"updated {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
