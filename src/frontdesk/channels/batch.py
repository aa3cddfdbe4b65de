"""Group commit for inbound messages: the messages waiting at one moment stored in one transaction.

A webhook route hands each verified, parsed message to the process's :class:`InboundWriter`
and awaits its own outcome. The writer's task takes every message waiting at that moment (up to
``max_batch``) and stores them together: on PostgreSQL one multi-row look-up (each sender's
identity, contact and open conversation, and the duplicate check), one multi-row statement (the
seq reservations, the messages with ``ON CONFLICT DO NOTHING``, their ``engine.decide`` jobs)
and one ``COMMIT`` for all; each request is answered once that commit is done, so a 200 still
means stored, and the fixed cost of a unit of work is paid once per batch instead of once per
message. While a batch commits, the next one (what arrived meanwhile) begins its transaction
and reads its senders on a second connection; its writes wait for the batch before to end, so
batches write in arrival order and never wait on each other's row locks.

In the common case (known senders writing in their open conversation, no duplicate, no tenant
webhook) the batch runs on a connection the writer keeps, with asyncpg alone: ``BEGIN`` and the
tenant binding in one round trip, the look-up, the store, ``COMMIT``. Otherwise nothing is
written there and the batch runs in a unit of work, where new senders, changed profiles,
duplicates and ``message.created`` are handled as the one-at-a-time path handles them.

What it keeps from storing one message at a time (:func:`frontdesk.channels.ingest.ingest_message`):

* idempotency: a provider message id already stored, or twice in one batch, is a duplicate
  (answered with the stored message); a concurrent writer in another process, or the batch
  before (whose commit the look-up may precede), that stores the same id first makes the batch
  fall back to one-at-a-time, where it is a duplicate;
* the order of the messages of one conversation (their seq follows their arrival);
* row-level security: the batch's transaction is bound to each tenant in turn, and each
  tenant's statements run under its binding;
* what follows a stored message: ``message.created`` for the tenant's webhooks (in the same
  transaction), the open streams told and the job runner woken once committed.

Reactions and messages carrying a transfer code are not batched: each is stored in a unit of
work of its own by ``ingest_message``. When a batch fails, its messages are stored again one at
a time, each in its own unit of work, so that one bad message fails alone. SQLite (one writer
at a time anyway) stores a batch's messages one by one in the batch's single transaction.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from frontdesk.channels.inbound import InboundMessage
from frontdesk.channels.ingest import Ingested, ingest_message, is_plain, payload_of, profile_of
from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import Message
from frontdesk.conversations.repository import (
    DEFAULT_MAX_ATTEMPTS,
    ConversationRef,
    MessageRepository,
    Sender,
)
from frontdesk.conversations.schemas import MessageOut
from frontdesk.delivery import webhooks
from frontdesk.ids import new_id
from frontdesk.realtime.hub import Hub
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database, driver_connection, on_commit
from frontdesk.store.scope import bind_tenant, send_binding
from frontdesk.tenancy.context import TenantContext

log = structlog.get_logger("frontdesk.channels")

MAX_BATCH: Final = 256

_LOOKUP: Final = """
SELECT i.n, s.contact_id, s.display_name, s.email, s.phone, v.id, v.channel, v.status, m.id
FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS i(channel, sender, message, n)
LEFT JOIN LATERAL (
  SELECT ci.contact_id, c.display_name, c.email, c.phone
  FROM channel_identities ci JOIN contacts c ON c.tenant_id = $1 AND c.id = ci.contact_id
  WHERE ci.tenant_id = $1 AND ci.channel = i.channel AND ci.external_id = i.sender
  LIMIT 1
) s ON true
LEFT JOIN LATERAL (
  SELECT o.id, o.channel, o.status FROM conversations o
  WHERE o.tenant_id = $1 AND o.contact_id = s.contact_id AND o.channel = i.channel
    AND o.status <> 'closed'
  ORDER BY o.updated_at DESC LIMIT 1
) v ON true
LEFT JOIN LATERAL (
  SELECT m.id FROM messages m
  WHERE m.tenant_id = $1 AND m.channel = i.channel AND m.external_id = i.message
  LIMIT 1
) m ON true
"""
"""Per message (``n``, from 1): its sender's identity, contact and open conversation, and the
message already stored under its provider id; NULLs for what is not there. Each is a
parameterised look-up per message (``LATERAL … LIMIT 1``: not flattened into a join), so
that each takes its unique index."""

_STORE: Final = """
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::uuid[])
    AS t(id, conversation_id, k, channel, text, payload, external_id, job_id)
), counts AS (
  SELECT conversation_id, max(k) AS n FROM input GROUP BY conversation_id
), seq AS (
  UPDATE conversations o SET last_seq = o.last_seq + counts.n, updated_at = $10
  FROM counts
  WHERE o.tenant_id = $1 AND o.id = ANY($13::uuid[]) AND o.id = counts.conversation_id
  RETURNING o.id, o.last_seq - counts.n AS base
), message AS (
  INSERT INTO messages (id, tenant_id, created_at, conversation_id, seq, direction, channel,
                        sender, text, payload, status, external_id)
  SELECT input.id, $1, $10, input.conversation_id, seq.base + input.k, 'in', input.channel,
         'customer', input.text, input.payload::jsonb, 'received', input.external_id
  FROM input JOIN seq ON seq.id = input.conversation_id
  ON CONFLICT (tenant_id, channel, external_id) DO NOTHING
  RETURNING id, seq
), job AS (
  INSERT INTO outbox_jobs (id, tenant_id, created_at, updated_at, run_at, kind, payload, status,
                           attempts, max_attempts, idempotency_key)
  SELECT input.job_id, $1, $10, $10, $10, $11,
         jsonb_build_object('conversation_id', input.conversation_id::text,
                            'message_id', input.id::text),
         'pending', 0, $12, 'decide:' || input.id::text
  FROM input JOIN message ON message.id = input.id
)
SELECT id, seq FROM message
"""
"""The messages of one tenant (``k``: their rank within their conversation in this batch):
each conversation's numbers reserved at once under its row lock, the messages stored (a
provider id stored already is skipped), and a decide job for each one stored. Answers the
stored messages' ids and seqs."""


_NEW_SENDERS: Final = """
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::uuid[], $9::uuid[])
    AS t(contact_id, channel, sender, name, email, phone, conversation_id, identity_id)
), identity AS (
  INSERT INTO channel_identities (id, tenant_id, created_at, contact_id, channel, external_id,
                                  verified)
  SELECT identity_id, $1, $10, contact_id, channel, sender, true FROM input
  ON CONFLICT (tenant_id, channel, external_id) DO NOTHING
  RETURNING contact_id
), contact AS (
  INSERT INTO contacts (id, tenant_id, created_at, updated_at, display_name, email, phone)
  SELECT input.contact_id, $1, $10, $10, input.name, input.email, input.phone
  FROM input JOIN identity USING (contact_id)
), conversation AS (
  INSERT INTO conversations (id, tenant_id, created_at, updated_at, contact_id, channel, status,
                             last_seq)
  SELECT input.conversation_id, $1, $10, $10, input.contact_id, input.channel, 'open', 0
  FROM input JOIN identity USING (contact_id)
)
SELECT contact_id FROM identity
"""
"""New senders of one tenant: the identity first (``ON CONFLICT DO NOTHING``: another
transaction may have made it), and only for the identities made, their contact and an open
conversation (the foreign keys are checked at the end of the statement). Answers the contacts
made."""


class BatchConflict(Exception):
    """A message of the batch was stored by another transaction meanwhile: the batch is undone
    and its messages stored one at a time."""


@dataclass(slots=True)
class _Item:
    tenant: TenantContext
    inbound: InboundMessage
    future: asyncio.Future[Ingested]
    key: tuple[uuid.UUID, str, str]
    """The message's identity: its tenant, channel and provider message id."""


@dataclass(slots=True)
class _Outcome:
    """A batch's answers, kept until its transaction has committed."""

    results: list[Ingested] = field(default_factory=list)
    committed: bool = False

    def commit(self) -> None:
        self.committed = True


@dataclass(slots=True, eq=False)
class _Batch:
    """The messages stored in one transaction, and its place behind the batch before it."""

    items: list[_Item]
    before: asyncio.Future[None] | None
    """Done once the batch before has ended (stored and answered, or failed)."""
    begun: asyncio.Future[None]
    """Done once the next batch may begin: this one commits (or has ended)."""
    ended: asyncio.Future[None]

    def let_next_begin(self) -> None:
        """The next batch may begin: its ``BEGIN`` and look-ups overlap this one's commit."""
        if not self.begun.done():
            self.begun.set_result(None)

    async def turn(self) -> None:
        """Called before the batch's first write: waits for the batch before to end. So the
        batches write one after the other, in arrival order, and a batch never waits for a
        row lock held by one begun after it."""
        if self.before is not None and not self.before.done():
            await self.before

    def end(self) -> None:
        for future in (self.begun, self.ended):
            if not future.done():
                future.set_result(None)


class InboundWriter:
    """The process's group-commit writer of inbound messages.

    One queue, and up to two batches in flight on two connections: while a batch commits, the
    next one (everything that arrived meanwhile) begins its transaction and reads its
    senders, so that a round trip of each batch is hidden behind the other's. Its writes wait
    for the batch before to end (:meth:`_Batch.turn`)."""

    def __init__(self, db: Database, events: ConversationEvents, *, max_batch: int = MAX_BATCH):
        self.db = db
        self.events = events
        self.max_batch = max_batch
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._idle: list[AsyncConnection] = []
        self._closing = False
        self._postgresql = db.url.startswith("postgresql")

    def start(self) -> None:
        """Start the writer's task on the running loop (done on first use too)."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._wake = wake = asyncio.Event()
        self._task = loop.create_task(self._run(wake), name="inbound-writer")

    async def stop(self) -> None:
        """Store what is waiting, then end the task and close the connections."""
        self._closing = True
        try:
            task, self._task = self._task, None
            if task is not None and not task.done() and self._wake is not None:
                self._wake.set()
                await task
            while self._queue:
                await self._write(self._next_batch(None))
            idle, self._idle = self._idle, []
            for connection in idle:
                await connection.close()
        finally:
            self._closing = False

    @property
    def pending(self) -> int:
        """Messages waiting for a batch."""
        return len(self._queue)

    async def ingest(self, tenant: TenantContext, inbound: InboundMessage) -> Ingested:
        """Store ``inbound`` for ``tenant`` (once, whatever the provider's retries) with its
        decide job; returns once it is committed. A drop-in for ``ingest_message`` that needs
        no session of the caller's."""
        if not is_plain(inbound):
            async with self.db.session() as session:
                return await ingest_message(session, tenant, inbound, events=self.events)
        task = self._task
        if task is None or task.done():
            self.start()
        future: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
        key = (tenant.id, inbound.channel, inbound.provider_id)
        self._queue.append(_Item(tenant, inbound, future, key))
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()
        return await future

    async def ingest_all(
        self, tenant: TenantContext, messages: Sequence[InboundMessage]
    ) -> list[Ingested]:
        """:meth:`ingest` for each of ``messages`` (one notification's), in order: plain ones
        side by side (queued together, they share a batch), a reaction or a transfer code once
        those before it are stored (it may name them, or move the sender elsewhere)."""
        outcomes: list[Ingested] = []
        for plain, group in itertools.groupby(messages, key=is_plain):
            if plain:
                outcomes += await asyncio.gather(*(self.ingest(tenant, m) for m in group))
            else:
                for inbound in group:
                    outcomes.append(await self.ingest(tenant, inbound))
        return outcomes

    def _next_batch(self, before: _Batch | None) -> _Batch:
        loop = asyncio.get_running_loop()
        queue = self._queue
        items = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
        return _Batch(
            items,
            before.ended if before is not None else None,
            loop.create_future(),
            loop.create_future(),
        )

    async def _run(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        writing: set[asyncio.Task[None]] = set()
        before: _Batch | None = None
        try:
            while True:
                if not self._queue:
                    if self._closing:
                        break
                    wake.clear()
                    await wake.wait()
                    continue
                batch = self._next_batch(before)
                task = loop.create_task(self._write(batch))
                writing.add(task)
                task.add_done_callback(writing.discard)
                # The next batch begins once this one commits and the one before has ended:
                # two in flight at most.
                await batch.begun
                if before is not None:
                    await before.ended
                before = batch
            if before is not None:
                await before.ended
        except asyncio.CancelledError:
            for task in writing:
                task.cancel()
            raise

    async def _write(self, batch: _Batch) -> None:
        """Store the batch and answer each message once committed; when that fails, store
        what is not answered yet one at a time, so that only what fails by itself fails."""
        try:
            await self._store_batch(batch)
        except asyncio.CancelledError:
            for item in batch.items:
                if not item.future.done():
                    item.future.cancel()
            raise
        except Exception as exc:
            if not isinstance(exc, BatchConflict):
                log.warning("ingest.batch_failed", size=len(batch.items), error=type(exc).__name__)
            batch.let_next_begin()
            await batch.turn()
            await self._one_by_one([item for item in batch.items if not item.future.done()])
        finally:
            batch.end()

    async def _one_by_one(self, items: list[_Item]) -> None:
        for item in items:
            try:
                async with self.db.session() as session:
                    result = await ingest_message(
                        session, item.tenant, item.inbound, events=self.events
                    )
            except Exception as exc:
                if not item.future.done():
                    item.future.set_exception(exc)
                continue
            if not item.future.done():
                item.future.set_result(result)

    async def _store_batch(self, batch: _Batch) -> None:
        """Store the batch and answer each message once its transaction has committed: on
        PostgreSQL the common case directly, then the rest (if any) in a unit of work."""
        rest = await self._direct(batch) if self._postgresql else batch.items
        if rest:
            batch.let_next_begin()
            await batch.turn()
            await self._in_session(rest)

    async def _in_session(self, items: list[_Item]) -> None:
        """``items`` in one unit of work, answered once it has committed."""
        unique, answers = _unique(items)
        outcome = _Outcome()
        try:
            async with self.db.session() as session:
                # The first callback after the commit: from then on the messages are stored.
                on_commit(session, outcome.commit)
                stored: dict[tuple[uuid.UUID, str, str], Ingested] = {}
                for tenant, group in _by_tenant(unique):
                    if self._postgresql:
                        results = await self._store_tenant(session, tenant, group)
                    else:
                        results = [
                            await ingest_message(session, tenant, item.inbound, events=self.events)
                            for item in group
                        ]
                    stored.update(
                        (item.key, result) for item, result in zip(group, results, strict=True)
                    )
                outcome.results = answers(stored)
        except Exception:
            if not outcome.committed:
                raise
            # Committed, and only what follows the commit failed: the messages are stored.
            log.exception("ingest.after_commit_failed", size=len(items))
        _resolve(items, outcome.results)

    async def _direct(self, batch: _Batch) -> list[_Item]:
        """PostgreSQL, the common case: known senders writing in their open conversation (no
        duplicate, nothing new about them, no tenant webhook), stored on a connection the
        writer keeps, with the driver alone in four round trips (``BEGIN`` with the tenant
        binding, the look-up, the store, ``COMMIT``) and answered once committed. Returns
        the items left for a unit of work: every message of a sender (or contact) that needs
        more, so that each conversation's messages keep their order.

        The look-up may run while the batch before commits: what that batch stores
        meanwhile is met by the writes, which come after it has ended (a sender it made is
        left to the unit of work, a message it stored makes a :class:`BatchConflict`)."""
        items = batch.items
        unique, answers = _unique(items)
        connection = await self._connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        stored: dict[tuple[uuid.UUID, str, str], Ingested] = {}
        announce: list[_Stored] = []
        deferred: set[Any] = set()
        try:
            begin = "BEGIN; "
            for tenant, group in _by_tenant(unique):
                if tenant.webhooks:
                    deferred.add(tenant.id)
                    continue
                await driver.execute(begin + _binding(tenant.id))
                begin = ""
                rows = await self._lookup(driver, tenant, group)
                threads = {
                    n: _open_thread(item.inbound, rows[n]) for n, item in enumerate(group, 1)
                }
                await batch.turn()
                threads.update(await self._new_senders(driver, tenant, group, rows))
                for n, item in enumerate(group, start=1):
                    if threads[n] is None:
                        deferred.update(_marks(item, rows[n]))
                fresh = [
                    (n, item, thread)
                    for n, item in enumerate(group, start=1)
                    if (thread := threads[n]) is not None
                    and (not deferred or deferred.isdisjoint(_marks(item, rows[n])))
                ]
                if fresh:
                    results = await self._insert(driver, tenant, fresh, announce)
                    stored.update((item.key, results[n]) for n, item, _ in fresh)
            if not begin:
                batch.let_next_begin()
                await driver.execute("COMMIT" if stored else "ROLLBACK")
        except BatchConflict:
            try:
                await driver.execute("ROLLBACK")
            except BaseException:
                await _drop(connection)
                raise
            self._idle.append(connection)
            raise
        except BaseException:
            await _drop(connection)
            raise
        self._idle.append(connection)
        if not stored:
            return items
        done = [item for item in items if item.key in stored]
        _resolve(done, answers(stored, done))
        wakeup = self.db.session_info.get("wakeup")
        if wakeup is not None:
            wakeup()
        try:
            await self._announce(announce)
        except Exception:
            log.exception("ingest.after_commit_failed", size=len(done))
        return [item for item in items if item.key not in stored]

    async def _announce(self, announce: list[_Stored]) -> None:
        """Tell open streams of the messages just committed. Asked after the commit: a stream
        that subscribes later reads them from the store when it replays."""
        events = self.events
        if type(events) is Hub and not events.subscriber_count:
            return  # nobody in this process listens, and no other process hears this hub
        for stored in announce:
            values = _columns(*stored)
            await events.message(
                stored[0], MessageOut.model_construct(**{name: values[name] for name in _OUT})
            )

    async def _new_senders(
        self, driver: Any, tenant: TenantContext, items: Sequence[_Item], rows: dict[int, Any]
    ) -> dict[int, ConversationRef]:
        """First messages of senders nobody knows yet: their contacts, identities and open
        conversations made in one statement; the conversation of each such message, by ``n``.
        A sender whose identity another transaction made meanwhile, or whose messages here
        disagree on the profile, gets none (a unit of work then finds or makes it)."""
        senders: dict[tuple[str, str], tuple[conversations.Profile, list[int]]] = {}
        for n, item in enumerate(items, start=1):
            if rows[n][1] is not None or rows[n][8] is not None:
                continue
            inbound = item.inbound
            profile = profile_of(inbound)
            known = senders.setdefault((inbound.channel, inbound.sender_id), (profile, []))
            known[1].append(n if known[0] == profile else -n)
        wanted = {key: value for key, value in senders.items() if min(value[1]) > 0}
        if not wanted:
            return {}
        contact_ids = {key: new_id() for key in wanted}
        conversation_ids = {key: new_id() for key in wanted}
        made = await driver.fetch(
            _NEW_SENDERS,
            tenant.id,
            list(contact_ids.values()),
            [channel for channel, _ in wanted],
            [sender for _, sender in wanted],
            [profile.name for profile, _ in wanted.values()],
            [profile.email for profile, _ in wanted.values()],
            [profile.phone for profile, _ in wanted.values()],
            list(conversation_ids.values()),
            [new_id() for _ in wanted],
            utcnow(),
        )
        created = {row[0] for row in made}
        threads: dict[int, ConversationRef] = {}
        for key, (_, numbers) in wanted.items():
            contact_id = contact_ids[key]
            if contact_id in created:
                thread = ConversationRef(conversation_ids[key], key[0], "open", contact_id)
                threads.update((n, thread) for n in numbers)
        return threads

    async def _connection(self) -> AsyncConnection:
        """A connection the writer keeps (taken from the pool once, not per batch): one per
        batch in flight."""
        if self._idle:
            return self._idle.pop()
        return await self.db.engine.connect()

    async def _lookup(
        self, driver: Any, tenant: TenantContext, items: Sequence[_Item]
    ) -> dict[int, Any]:
        rows = await driver.fetch(
            _LOOKUP,
            tenant.id,
            [item.inbound.channel for item in items],
            [item.inbound.sender_id for item in items],
            [item.inbound.provider_id for item in items],
        )
        return {row[0]: row for row in rows}

    async def _store_tenant(
        self, session: AsyncSession, tenant: TenantContext, items: Sequence[_Item]
    ) -> list[Ingested]:
        """PostgreSQL, in a unit of work: one tenant's messages, under its binding, in the
        batch's transaction; new senders, changed profiles, duplicates and the tenant's
        webhooks as the one-at-a-time path handles them."""
        bind_tenant(session, tenant.id)
        await send_binding(session)
        found = await self._lookup(await driver_connection(session), tenant, items)
        threads: dict[tuple[str, str], ConversationRef] = {}
        duplicates: dict[int, uuid.UUID] = {}
        for n, item in enumerate(items, start=1):
            row = found[n]
            if row[8] is not None:
                duplicates[n] = row[8]
                continue
            inbound = item.inbound
            sender = (inbound.channel, inbound.sender_id)
            if sender not in threads:
                threads[sender] = await self._thread(session, tenant, inbound, row)
        results: dict[int, Ingested] = {}
        if duplicates:
            messages = MessageRepository(session, tenant.id)
            loaded = {
                message.id: message
                for message in (
                    await session.execute(
                        messages.select().where(Message.id.in_(list(duplicates.values())))
                    )
                ).scalars()
            }
            for n, message_id in duplicates.items():
                results[n] = Ingested(message=loaded.get(message_id), duplicate=True)
        fresh = [
            (n, item, threads[(item.inbound.channel, item.inbound.sender_id)])
            for n, item in enumerate(items, start=1)
            if n not in duplicates
        ]
        if fresh:
            announce: list[_Stored] = []
            created = await self._insert(await driver_connection(session), tenant, fresh, announce)
            for message in created.values():
                if tenant.webhooks and message.message is not None:
                    await webhooks.message_created(session, tenant, message.message)
            wakeup = session.info.get("wakeup")
            if wakeup is not None:
                on_commit(session, wakeup)
            on_commit(session, functools.partial(self._announce, announce))
            results.update(created)
        return [results[n] for n in range(1, len(items) + 1)]

    async def _thread(
        self, session: AsyncSession, tenant: TenantContext, inbound: InboundMessage, row: Any
    ) -> ConversationRef:
        """The sender's open conversation: from the look-up when it has one and the profile is
        unchanged, else as the one-at-a-time path finds it (new sender, changed name, no open
        conversation: rare once a customer has written)."""
        thread = _open_thread(inbound, row)
        if thread is not None:
            return thread
        contact_id, name, email, phone, conversation_id, channel, status = row[1:8]
        known = None
        if contact_id is not None:
            conversation = (
                ConversationRef(conversation_id, channel, status, contact_id)
                if conversation_id is not None
                else None
            )
            known = Sender(contact_id, name, email, phone, conversation, None)
        thread = await conversations.conversation_of(
            session, tenant, known, inbound.channel, inbound.sender_id, profile_of(inbound)
        )
        # Statements through the session may have changed the binding it last sent.
        await send_binding(session)
        return thread

    async def _insert(
        self,
        driver: Any,
        tenant: TenantContext,
        fresh: Sequence[tuple[int, _Item, ConversationRef]],
        announce: list[_Stored],
    ) -> dict[int, Ingested]:
        """The store statement for one tenant's new messages; their answers by ``n``, and what
        to tell open streams once committed in ``announce``."""
        now = utcnow()
        ranks: dict[uuid.UUID, int] = {}
        ids: list[uuid.UUID] = []
        conversation_ids: list[uuid.UUID] = []
        numbers: list[int] = []
        for _, _, thread in fresh:
            rank = ranks[thread.id] = ranks.get(thread.id, 0) + 1
            ids.append(new_id())
            conversation_ids.append(thread.id)
            numbers.append(rank)
        inbound = [item.inbound for _, item, _ in fresh]
        rows = await driver.fetch(
            _STORE,
            tenant.id,
            ids,
            conversation_ids,
            numbers,
            [message.channel for message in inbound],
            [message.text for message in inbound],
            [orjson.dumps(payload_of(message)).decode() for message in inbound],
            [message.provider_id for message in inbound],
            [new_id() for _ in ids],
            now,
            conversations.DECIDE_JOB,
            DEFAULT_MAX_ATTEMPTS,
            list(ranks),
        )
        if len(rows) != len(ids):
            raise BatchConflict("a message of the batch was stored meanwhile")
        seqs = dict(rows)
        results: dict[int, Ingested] = {}
        for (n, item, thread), message_id in zip(fresh, ids, strict=True):
            stored = (tenant.id, message_id, thread.id, seqs[message_id], now, item.inbound)
            announce.append(stored)
            # The ORM object is made only if someone reads it (it costs more than storing).
            results[n] = Ingested(build=functools.partial(_message, *stored))
        return results


async def _drop(connection: AsyncConnection) -> None:
    """Give up a kept connection after an error (its transaction state is unknown)."""
    try:
        await connection.invalidate()
        await connection.close()
    except Exception:
        log.warning("ingest.connection_drop_failed")


_Stored = tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, datetime, InboundMessage]
"""A message the batch stored: its tenant, id, conversation, seq, creation time and what came
in."""


def _columns(
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    seq: int,
    created_at: datetime,
    inbound: InboundMessage,
) -> dict[str, Any]:
    """The stored message's columns, as the store statement wrote them."""
    return {
        "id": message_id,
        "tenant_id": tenant_id,
        "conversation_id": conversation_id,
        "seq": seq,
        "created_at": created_at,
        "direction": "in",
        "channel": inbound.channel,
        "sender": "customer",
        "text": inbound.text,
        "payload": payload_of(inbound),
        "status": "received",
        "external_id": inbound.provider_id,
    }


def _message(*stored: Any) -> Message:
    return Message(**_columns(*stored))


def _binding(tenant_id: uuid.UUID) -> str:
    """The transaction's tenant binding as SQL (the value is a UUID's canonical text)."""
    value = str(uuid.UUID(str(tenant_id)))
    return f"SELECT set_config('app.tenant_id', '{value}', true), set_config('app.scope', '', true)"


def _open_thread(inbound: InboundMessage, row: Any) -> ConversationRef | None:
    """The sender's open conversation from the look-up's ``row``, when nothing more is
    needed: the message is not stored yet, the sender is known with an open conversation on
    the channel, and the message tells nothing new of the sender's profile."""
    contact_id, name, email, phone, conversation_id, channel, status, stored = row[1:9]
    if stored is not None or conversation_id is None:
        return None
    profile = profile_of(inbound)
    for value, current in ((profile.name, name), (profile.email, email), (profile.phone, phone)):
        if value and value != current:
            return None
    return ConversationRef(conversation_id, channel, status, contact_id)


_OUT: Final = tuple(MessageOut.model_fields)


def _marks(item: _Item, row: Any) -> set[Any]:
    """What ties a message to others that must be stored in the same transaction, in order:
    its tenant's sender and, when known, its contact."""
    return {(item.tenant.id, item.inbound.channel, item.inbound.sender_id), row[1]} - {None}


def _unique(
    items: list[_Item],
) -> tuple[
    list[_Item],
    Callable[..., list[Ingested]],
]:
    """The first of each provider message id among ``items``, and how to answer every item
    from the results of those (a later copy is a duplicate of the first)."""
    first: dict[tuple[uuid.UUID, str, str], int] = {}
    for item in items:
        first.setdefault(item.key, id(item))
    unique = [item for item in items if first[item.key] == id(item)]

    def answers(
        stored: dict[tuple[uuid.UUID, str, str], Ingested], among: list[_Item] | None = None
    ) -> list[Ingested]:
        results = []
        for item in items if among is None else among:
            result = stored[item.key]
            if first[item.key] != id(item) and not result.duplicate:
                result = Ingested(message=result.message, duplicate=True)
            results.append(result)
        return results

    return unique, answers


def _resolve(items: list[_Item], results: list[Ingested]) -> None:
    for item, result in zip(items, results, strict=True):
        if not item.future.done():
            item.future.set_result(result)


def _by_tenant(items: Sequence[_Item]) -> list[tuple[TenantContext, list[_Item]]]:
    """The items grouped by tenant, each group in arrival order."""
    groups: dict[uuid.UUID, tuple[TenantContext, list[_Item]]] = {}
    for item in items:
        groups.setdefault(item.tenant.id, (item.tenant, []))[1].append(item)
    return list(groups.values())
