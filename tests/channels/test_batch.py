"""Group commit of inbound messages: many notifications at once, several tenants, senders and
conversations, duplicates inside one batch; each message stored once, in order, each answer
given only once its batch has committed, and a failing message failing alone."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from frontdesk.channels import batch
from frontdesk.channels.batch import InboundWriter
from frontdesk.channels.inbound import InboundMessage
from frontdesk.channels.ingest import ingest_message
from frontdesk.channels.whatsapp import webhook as whatsapp
from frontdesk.conversations.models import ChannelIdentity, Contact, Message
from frontdesk.delivery.models import OutboxJob
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.service import get_tenant, set_status
from tests.channels import meta
from tests.channels.fake_graph import FakeGraph
from tests.channels.test_whatsapp import eventually
from tests.factories import SampleTenant, connect_whatsapp, make_tenant

URL = "/webhooks/whatsapp"
StoreBatch = Callable[[Any], Awaitable[None]]


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the app's 500 answers instead of its exceptions."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def writer(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[InboundWriter]:
    """A writer of the test's own in place of the runtime's, to be held and spied on."""
    own = InboundWriter(runtime.db, runtime.hub)
    own.start()
    monkeypatch.setattr(runtime, "inbound", own)
    yield own
    await own.stop()


@pytest.fixture
async def two_tenants(
    runtime: Runtime, graph: FakeGraph
) -> AsyncIterator[list[tuple[SampleTenant, str]]]:
    """Two tenants with a WhatsApp number each (replies go to the fake Graph API), suspended
    afterwards so that the decisions left on their many messages do not hold up the job
    runner for the tests that follow."""
    tenants = [await make_tenant(runtime) for _ in range(2)]
    yield [(tenant, await connect_whatsapp(runtime, tenant)) for tenant in tenants]
    async with runtime.db.session() as session:
        for tenant in tenants:
            row = await get_tenant(session, tenant.slug)
            await set_status(session, row, "suspended", actor="test")


async def post(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body, headers = meta.signed(payload)
    return await http.post(URL, content=body, headers=headers)


async def inbound_of(runtime: Runtime, tenant: SampleTenant) -> list[Message]:
    async with runtime.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(Message)
            .where(Message.tenant_id == tenant.context.id, Message.direction == "in")
            .order_by(Message.conversation_id, Message.seq)
        )
        return list(rows)


async def decide_jobs_of(runtime: Runtime, tenant: SampleTenant) -> list[OutboxJob]:
    async with runtime.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(OutboxJob).where(
                OutboxJob.tenant_id == tenant.context.id, OutboxJob.kind == "engine.decide"
            )
        )
        return list(rows)


class Held:
    """The writer made to wait for ``gate`` before writing each batch (after recording its
    provider ids in ``batches``); a batch holding ``fail_on`` then fails as a whole."""

    def __init__(
        self, writer: InboundWriter, monkeypatch: pytest.MonkeyPatch, fail_on: str = ""
    ) -> None:
        self.gate = asyncio.Event()
        self.batches: list[list[str]] = []
        original: StoreBatch = writer._store_batch

        async def held(batch: Any) -> None:
            ids = [item.inbound.provider_id for item in batch.items]
            self.batches.append(ids)
            await self.gate.wait()
            if fail_on in ids:
                raise RuntimeError("the batch failed")
            await original(batch)

        monkeypatch.setattr(writer, "_store_batch", held)

    async def occupy(
        self, http: httpx.AsyncClient, number: str, message: dict[str, Any]
    ) -> asyncio.Task[httpx.Response]:
        """Post ``message`` and return once the writer holds it: what is posted next queues."""
        blocker = asyncio.create_task(post(http, meta.notification(number, messages=[message])))
        await eventually(lambda: len(self.batches) == 1)
        return blocker


def spy_direct(writer: InboundWriter, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many messages of each batch the direct path (PostgreSQL) left to a unit of work."""
    left: list[int] = []
    original = writer._direct

    async def spy(batch: Any) -> list[Any]:
        rest = await original(batch)
        left.append(len(rest))
        return rest

    monkeypatch.setattr(writer, "_direct", spy)
    return left


async def known_sender(
    backend: str,
    http: httpx.AsyncClient,
    two_tenants: list[tuple[SampleTenant, str]],
    wa_id: str,
) -> tuple[SampleTenant, str, dict[str, Any]]:
    """On PostgreSQL (the direct path's), the first tenant, its number and the first message
    of ``wa_id``, a known sender from then on."""
    if backend != "postgresql":
        pytest.skip("the direct path is PostgreSQL's")
    tenant, number = two_tenants[0]
    first = meta.text("hola", sender=wa_id)
    hello = await post(http, meta.notification(number, messages=[first], wa_id=wa_id))
    assert hello.json()["messages"] == 1
    return tenant, number, first


async def test_concurrent_notifications_are_stored_once_each_in_one_batch_and_in_order(
    backend: str,
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (first, first_number), (second, _) = two_tenants
    # A returning customer of the first tenant, so that the batch meets known and new senders.
    known = meta.text("Hola", sender="573000000001")
    warm = await post(http, meta.notification(first_number, messages=[known], wa_id="573000000001"))
    assert warm.json()["messages"] == 1
    left = spy_direct(writer, monkeypatch)
    held = Held(writer, monkeypatch)
    # The writer takes this one and waits, while everything below queues behind it.
    blocker = await held.occupy(http, first_number, meta.text("¿Hay alguien?"))
    payloads: list[dict[str, Any]] = []
    written: dict[uuid.UUID, dict[str, list[str]]] = {
        first.context.id: defaultdict(list),
        second.context.id: defaultdict(list),
    }
    for tenant, number in two_tenants:
        for customer in range(1, 4):
            wa_id = f"57300000000{customer}"
            # Three messages of one customer in one notification, in the order written.
            texts = [meta.text(f"mensaje {n}", sender=wa_id) for n in range(3)]
            # The returning customer has changed the name on the profile since.
            name = "Camila R." if (tenant, wa_id) == (first, known["from"]) else "Camila Rojas"
            payloads.append(meta.notification(number, messages=texts, wa_id=wa_id, name=name))
            written[tenant.context.id][wa_id] += [item["id"] for item in texts]
    # Meta delivers some notifications twice, at the same time.
    payloads += [payloads[0], payloads[4]]
    tasks = [asyncio.create_task(post(http, payload)) for payload in payloads]
    await eventually(lambda: writer.pending == 3 * len(payloads))
    # Nothing is answered before its batch has committed, and nothing is stored yet.
    assert not blocker.done()
    assert not any(task.done() for task in tasks)
    assert await inbound_of(runtime, second) == []
    held.gate.set()
    answers = await asyncio.gather(blocker, *tasks)
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    # Everything that queued went in one batch: two tenants, six senders, the duplicates.
    assert [len(ids) for ids in held.batches] == [1, 3 * len(payloads)]
    # On PostgreSQL the new senders' messages were stored directly (their contacts and
    # conversations made together), the returning customer's with its new name (and their
    # copies) in a unit of work.
    assert left == ([0, 6] if backend == "postgresql" else [])
    async with runtime.db.session() as session, system_scope(session):
        names = await session.scalars(
            select(Contact.display_name)
            .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
            .where(
                ChannelIdentity.tenant_id == first.context.id,
                ChannelIdentity.external_id.in_(["573000000001", "573000000002"]),
            )
            .order_by(ChannelIdentity.external_id)
        )
        assert list(names) == ["Camila R.", "Camila Rojas"]
    counted = Counter[str]()
    for answer in answers[1:]:
        counted.update(answer.json())
    assert (counted["messages"], counted["duplicates"]) == (18, 6)
    for tenant, _ in two_tenants:
        stored = await inbound_of(runtime, tenant)
        ids = [message.external_id for message in stored]
        assert len(ids) == len(set(ids))
        for wa_id, sent in written[tenant.context.id].items():
            mine = sorted((m for m in stored if m.external_id in sent), key=lambda m: m.seq)
            # One conversation per customer; numbered one after the other, in writing order.
            assert len({m.conversation_id for m in mine}) == 1, wa_id
            assert [m.external_id for m in mine] == sent
            assert [m.seq - mine[0].seq for m in mine] == [0, 1, 2]
        jobs = await decide_jobs_of(runtime, tenant)
        assert sorted(job.payload["message_id"] for job in jobs) == sorted(
            str(message.id) for message in stored
        )
    assert len(await inbound_of(runtime, first)) == 2 + 9
    assert len(await inbound_of(runtime, second)) == 9


async def test_an_answer_means_the_message_is_visible_to_others(
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
) -> None:
    tenant, number = two_tenants[0]

    async def post_and_look(n: int) -> bool:
        item = meta.text(f"pregunta {n}", sender=f"5730011100{n % 4:02d}")
        answer = await post(http, meta.notification(number, messages=[item]))
        assert answer.status_code == 200
        # Read in another unit of work (another connection): committed, not just written.
        return item["id"] in {m.external_id for m in await inbound_of(runtime, tenant)}

    # Batches overlap (the next one reads while the one before writes and commits).
    assert all(await asyncio.gather(*(post_and_look(n) for n in range(24))))
    stored = await inbound_of(runtime, tenant)
    assert len(stored) == len({m.external_id for m in stored}) == 24


async def test_the_next_batch_reads_while_the_one_before_commits_and_writes_after_it(
    backend: str,
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    known, new = "573005550000", "573005550001"
    tenant, number, greeting = await known_sender(backend, http, two_tenants, known)
    # The first batch is held at its commit, its rows written and their locks taken.
    written, gate = asyncio.Event(), asyncio.Event()
    lookups: list[int] = []
    execute, lookup = asyncpg.Connection.execute, writer._lookup

    async def held_commit(self: asyncpg.Connection, query: str, *args: Any, **kw: Any) -> Any:
        if query == "COMMIT" and not written.is_set():
            written.set()
            await gate.wait()
        return await execute(self, query, *args, **kw)

    async def counted_lookup(*args: Any) -> Any:
        rows = await lookup(*args)
        lookups.append(len(rows))
        return rows

    monkeypatch.setattr(asyncpg.Connection, "execute", held_commit)
    monkeypatch.setattr(writer, "_lookup", counted_lookup)
    first = [meta.text(f"primero {n}", sender=known) for n in range(2)]
    new_first = meta.text("soy nueva", sender=new)
    # Several messages of one notification are queued together: each batch is one of these.
    one = post(http, meta.notification(number, messages=[*first, new_first], wa_id=known))
    tasks = [asyncio.create_task(one)]
    await asyncio.wait_for(written.wait(), 10)
    # The next batch: the same conversation, the new sender again, and a retry of a message
    # the first batch holds uncommitted.
    then = [meta.text(f"después {n}", sender=known) for n in range(2)]
    new_then = meta.text("otra vez yo", sender=new)
    two = post(http, meta.notification(number, messages=[*then, new_then, first[0]], wa_id=known))
    tasks.append(asyncio.create_task(two))
    # It begins and reads while the first still holds its transaction open.
    await eventually(lambda: len(lookups) == 2)
    assert lookups == [3, 4]
    assert not any(task.done() for task in tasks)
    gate.set()
    answers = [answer.json() for answer in await asyncio.wait_for(asyncio.gather(*tasks), 30)]
    assert answers == [
        {"messages": 3, "statuses": 0, "duplicates": 0},
        {"messages": 3, "statuses": 0, "duplicates": 1},
    ]
    stored = await inbound_of(runtime, tenant)
    by_conversation: dict[uuid.UUID, list[Message]] = defaultdict(list)
    for message in stored:
        by_conversation[message.conversation_id].append(message)
    # Each conversation's messages numbered (read in that order) as they arrived, the replies
    # taking numbers in between; the new sender's conversation made once.
    threads = {
        messages[0].external_id: [m.external_id for m in messages]
        for messages in by_conversation.values()
    }
    assert threads == {
        greeting["id"]: [m["id"] for m in [greeting, *first, *then]],
        new_first["id"]: [new_first["id"], new_then["id"]],
    }
    jobs = await decide_jobs_of(runtime, tenant)
    assert sorted(job.payload["message_id"] for job in jobs) == sorted(str(m.id) for m in stored)


async def test_a_failing_message_fails_alone_and_its_retry_is_stored(
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, number = two_tenants[0]
    poisoned = meta.text("este falla", sender="573002220000")
    others = [meta.text(f"otro {n}", sender=f"5730022200{n:02d}") for n in range(1, 6)]
    held = Held(writer, monkeypatch, fail_on=poisoned["id"])
    stored_one = ingest_message

    async def failing_one(session: Any, tenant: Any, inbound: InboundMessage, **kw: Any) -> Any:
        if inbound.provider_id == poisoned["id"]:
            raise RuntimeError("this message cannot be stored")
        return await stored_one(session, tenant, inbound, **kw)

    monkeypatch.setattr(batch, "ingest_message", failing_one)
    blocker = await held.occupy(http, number, meta.text("primero"))
    tasks = [
        asyncio.create_task(post(http, meta.notification(number, messages=[item])))
        for item in [others[0], others[1], poisoned, *others[2:]]
    ]
    await eventually(lambda: writer.pending == 6)
    held.gate.set()
    answers = await asyncio.gather(blocker, *tasks)
    # The batch failed; stored one by one, only the message that fails by itself fails.
    assert held.batches[1] == [item["id"] for item in [others[0], others[1], poisoned, *others[2:]]]
    assert [a.status_code for a in answers] == [200, 200, 200, 500, 200, 200, 200]
    assert answers[3].headers["content-type"].startswith("application/problem+json")
    stored = {m.external_id for m in await inbound_of(runtime, tenant)}
    assert {item["id"] for item in others} <= stored
    assert poisoned["id"] not in stored
    # Meta retries the failed notification once the fault is gone: it is stored, once.
    monkeypatch.undo()
    retry = await post(http, meta.notification(number, messages=[poisoned]))
    assert retry.json() == {"messages": 1, "statuses": 0, "duplicates": 0}
    again = await post(http, meta.notification(number, messages=[poisoned]))
    assert again.json() == {"messages": 0, "statuses": 0, "duplicates": 1}
    ids = [m.external_id for m in await inbound_of(runtime, tenant)]
    assert ids.count(poisoned["id"]) == 1
    assert len(ids) == len(set(ids)) == 7


async def test_known_senders_of_several_tenants_take_the_direct_path(
    backend: str,
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    senders = [f"57300333000{n}" for n in range(3)]
    for _, number in two_tenants:
        for wa_id in senders:
            hello = [meta.text("hola", sender=wa_id)]
            first = await post(http, meta.notification(number, messages=hello, wa_id=wa_id))
            assert first.json()["messages"] == 1
    tenant, _ = two_tenants[0]
    conversation_id = (await inbound_of(runtime, tenant))[0].conversation_id
    left = spy_direct(writer, monkeypatch)
    held = Held(writer, monkeypatch)
    _, number = two_tenants[0]
    blocker = await held.occupy(http, number, meta.text("uno", sender=senders[0]))
    payloads = [
        meta.notification(
            number,
            messages=[meta.text(f"{wa_id} {n}", sender=wa_id) for n in range(2)],
            wa_id=wa_id,
        )
        for _, number in two_tenants
        for wa_id in senders
    ]
    payloads.append(payloads[1])  # delivered twice in the same batch
    async with runtime.hub.subscribe(tenant.context.id, conversation_id) as stream:
        tasks = [asyncio.create_task(post(http, payload)) for payload in payloads]
        await eventually(lambda: writer.pending == 2 * len(payloads))
        assert not any(task.done() for task in tasks)
        held.gate.set()
        answers = await asyncio.gather(blocker, *tasks)
        announced = [stream.get_nowait() for _ in range(stream.qsize())]
    assert all(answer.status_code == 200 for answer in answers)
    assert [answer.json()["duplicates"] for answer in answers[1:]] == [0] * 6 + [2]
    # PostgreSQL stores both batches on the direct path, the second with both tenants in it.
    assert left == ([0, 0] if backend == "postgresql" else [])
    assert [len(ids) for ids in held.batches] == [1, 2 * len(payloads)]
    for (owner, _), group in zip(two_tenants, (payloads[:3], payloads[3:6]), strict=True):
        stored = await inbound_of(runtime, owner)
        assert len(stored) == len({m.external_id for m in stored}) == 3 + 6 + (owner is tenant)
        for payload in group:
            sent = [m["id"] for m in payload["entry"][0]["changes"][0]["value"]["messages"]]
            mine = sorted((m for m in stored if m.external_id in sent), key=lambda m: m.seq)
            assert [m.external_id for m in mine] == sent
            assert mine[1].seq == mine[0].seq + 1
        jobs = await decide_jobs_of(runtime, owner)
        assert {job.payload["message_id"] for job in jobs} == {str(m.id) for m in stored}
    # The open stream of the first sender's conversation was told of its new messages.
    assert [event.event for event in announced] == ["message"] * 3


async def test_a_message_stored_meanwhile_by_another_process_is_a_duplicate(
    backend: str,
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wa_id = "573004440000"
    tenant, number, first = await known_sender(backend, http, two_tenants, wa_id)
    raced, after = meta.text("la misma", sender=wa_id), meta.text("y otra", sender=wa_id)
    payload = meta.notification(number, messages=[raced, after], wa_id=wa_id)
    original = writer._insert

    async def another_process_first(*args: Any) -> Any:
        # Between the batch's look-up and its store, another process stores the same message.
        value = payload["entry"][0]["changes"][0]["value"]
        async with runtime.db.session() as session:
            await ingest_message(
                session, tenant.context, whatsapp.parse(value)[0][0], events=runtime.hub
            )
        monkeypatch.setattr(writer, "_insert", original)
        return await original(*args)

    monkeypatch.setattr(writer, "_insert", another_process_first)
    answer = await post(http, payload)
    # The batch was undone and stored again one message at a time: the raced one is a
    # duplicate, the other is stored, after it.
    assert answer.json() == {"messages": 1, "statuses": 0, "duplicates": 1}
    stored = await inbound_of(runtime, tenant)
    assert [m.external_id for m in stored] == [first["id"], raced["id"], after["id"]]
    async with runtime.db.session() as session, system_scope(session):
        seqs = list(
            await session.scalars(
                select(Message.seq)
                .where(Message.conversation_id == stored[0].conversation_id)
                .order_by(Message.seq)
            )
        )
    # No number was lost to the undone batch.
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_reaction_in_the_same_notification_as_its_message_finds_it(
    http: httpx.AsyncClient,
    runtime: Runtime,
    two_tenants: list[tuple[SampleTenant, str]],
    writer: InboundWriter,
) -> None:
    tenant, number = two_tenants[0]
    wa_id = "573006660000"
    text = meta.text("¿Abren el domingo?", sender=wa_id)
    reaction = {
        "from": wa_id,
        "id": meta.wamid(),
        "timestamp": text["timestamp"],
        "type": "reaction",
        "reaction": {"message_id": text["id"], "emoji": "👍"},
    }
    later = meta.text("gracias", sender=wa_id)
    payload = meta.notification(number, messages=[text, reaction, later], wa_id=wa_id)
    answer = await post(http, payload)
    assert answer.status_code == 200
    # The reaction waited for the message before it, then marked it; the one after followed.
    stored = await inbound_of(runtime, tenant)
    assert [m.external_id for m in stored] == [text["id"], later["id"]]
    assert stored[0].payload.get("reaction") == "👍"
