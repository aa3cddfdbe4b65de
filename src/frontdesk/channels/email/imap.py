"""Reading a tenant's mailbox over IMAP: new messages since the last poll, each once.

The mailbox is opened read-only (nothing is marked or moved); a message is new when its UID
is above the last one read while the mailbox keeps its UIDVALIDITY. The first poll of a
mailbox only notes where it stands (mail already there is not answered); when the server
changes the UIDVALIDITY, messages since the day of the last poll are read again and their
Message-IDs keep the ones already stored from being stored twice. TLS from the first byte
(``tls``, port 993) or STARTTLS; plain only when the connection says ``none`` (local tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.connections import open_credentials
from frontdesk.channels.email.inbound import receive_email
from frontdesk.channels.email.message import parse_mime
from frontdesk.channels.email.models import EmailMailbox
from frontdesk.channels.email.schedule import POLL_JOB, next_slot, polls, schedule_poll
from frontdesk.channels.models import ChannelConnection
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.repository import insert_or_skip
from frontdesk.delivery.models import OutboxJob
from frontdesk.delivery.worker import Handler
from frontdesk.ids import new_id
from frontdesk.security.crypto import SecretBox
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.store.repository import TenantRepository
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.context import Connection, TenantContext
from frontdesk.tenancy.store import TenantContextStore

MAX_PER_POLL: Final = 50
MAX_MESSAGE_BYTES: Final = 10 * 1024 * 1024
TIMEOUT: Final = 30.0
log = structlog.get_logger("frontdesk.channels.email")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class Mailboxes(TenantRepository[EmailMailbox]):
    model = EmailMailbox


@dataclass(frozen=True, slots=True)
class Fetched:
    uid: int
    raw: bytes | None
    """None when the message is larger than ``MAX_MESSAGE_BYTES`` (it is skipped)."""


@dataclass(frozen=True, slots=True)
class Batch:
    uidvalidity: int
    messages: Sequence[Fetched]
    newest: int
    """The highest UID in the mailbox (the position a first poll notes)."""


@dataclass(frozen=True, slots=True)
class PollResult:
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Login:
    host: str
    port: int
    tls: str
    username: str
    password: str
    mailbox: str


def _quoted(mailbox: str) -> str:
    if any(ord(c) < 32 for c in mailbox):
        raise imaplib.IMAP4.error("the mailbox name has control characters")
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uids(data: Sequence[object]) -> list[int]:
    found: list[int] = []
    for chunk in data:
        if isinstance(chunk, bytes):
            found.extend(int(x) for x in chunk.split() if x.isdigit())
    return sorted(found)


def fetch(login: Login, *, uidvalidity: int | None, last_uid: int, since: datetime | None) -> Batch:
    """The messages after ``last_uid`` (blocking: run it in a thread)."""
    context = ssl.create_default_context()
    if login.tls == "tls":
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            login.host, login.port, ssl_context=context, timeout=TIMEOUT
        )
    else:
        client = imaplib.IMAP4(login.host, login.port, timeout=TIMEOUT)
    try:
        if login.tls == "starttls":
            client.starttls(ssl_context=context)
        client.login(login.username, login.password)
        typ, _ = client.select(_quoted(login.mailbox), readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot open the mailbox {login.mailbox[:60]}")
        _, validity = client.response("UIDVALIDITY")
        current = int(validity[0]) if validity and validity[0] else 0
        _, every = client.uid("SEARCH", "ALL")
        all_uids = _uids(every)
        newest = all_uids[-1] if all_uids else 0
        if uidvalidity is None:
            return Batch(current, (), newest)  # a first poll notes where the mailbox stands
        if current != uidvalidity:
            if since is None:
                return Batch(current, (), newest)
            _, found = client.uid("SEARCH", "SINCE", since.strftime("%d-%b-%Y"))
            wanted = _uids(found)
        else:
            wanted = [uid for uid in all_uids if uid > last_uid]
        messages = [_one(client, uid) for uid in wanted[:MAX_PER_POLL]]
        return Batch(current, messages, newest)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def _one(client: imaplib.IMAP4, uid: int) -> Fetched:
    _, meta = client.uid("FETCH", str(uid), "(RFC822.SIZE)")
    head = b" ".join(part for part in meta if isinstance(part, bytes))
    size = _SIZE.search(head)
    if size is not None and int(size.group(1)) > MAX_MESSAGE_BYTES:
        return Fetched(uid, None)
    _, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
    raw = next((part[1] for part in data if isinstance(part, tuple) and len(part) > 1), None)
    return Fetched(uid, raw if isinstance(raw, bytes) else None)


async def poll_connection(
    session: AsyncSession,
    tenant: TenantContext,
    connection: Connection,
    *,
    box: SecretBox,
    events: ConversationEvents,
) -> PollResult:
    """Read the connection's mailbox once and store what is new, in the caller's unit of work."""
    options = connection.options
    mailbox = str(options.get("imap_mailbox") or "INBOX")
    mailboxes = Mailboxes(session, tenant.id)
    # Two polls may meet on a new mailbox (a start-up's and the chain's): one row, then a lock.
    await session.execute(
        insert_or_skip(session, EmailMailbox, "connection_id", "mailbox").values(
            id=new_id(),
            created_at=utcnow(),
            tenant_id=tenant.id,
            connection_id=connection.id,
            mailbox=mailbox,
            last_uid=0,
        )
    )
    state = (
        await session.execute(
            mailboxes.select()
            .where(EmailMailbox.connection_id == connection.id, EmailMailbox.mailbox == mailbox)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    secrets = open_credentials(box, connection)
    login = Login(
        host=str(options.get("imap_host") or ""),
        port=int(options.get("imap_port") or 993),
        tls=str(options.get("imap_tls") or "tls"),
        username=secrets.get("imap_username") or connection.account_id,
        password=secrets.get("imap_password") or "",
        mailbox=mailbox,
    )
    if not login.host or not login.password:
        state.last_error = "the connection has no IMAP host or password"
        return PollResult(error=state.last_error)
    try:
        batch = await asyncio.to_thread(
            fetch,
            login,
            uidvalidity=state.uidvalidity,
            last_uid=state.last_uid,
            since=state.polled_at,
        )
    except (imaplib.IMAP4.error, OSError, ssl.SSLError, TimeoutError, ValueError) as exc:
        state.last_error = f"{type(exc).__name__}: {exc}"[:200]
        log.warning("email.poll_failed", tenant=tenant.slug, error=state.last_error)
        return PollResult(error=state.last_error)
    counts = {"stored": 0, "duplicate": 0, "ignored": 0}
    first = state.uidvalidity is None
    for item in batch.messages:
        if item.raw is None:
            log.warning("email.too_large", tenant=tenant.slug, uid=item.uid)
            counts["ignored"] += 1
            continue
        try:
            email = parse_mime(item.raw)
        except Exception:  # one unreadable message must not hold the mailbox up
            log.warning("email.unreadable", tenant=tenant.slug, uid=item.uid)
            counts["ignored"] += 1
            continue
        outcome = await receive_email(session, tenant, connection, email, events=events)
        counts[outcome.result] += 1
    if first or batch.uidvalidity != state.uidvalidity:
        state.last_uid = batch.newest
    elif batch.messages:
        state.last_uid = max(state.last_uid, max(item.uid for item in batch.messages))
    state.uidvalidity = batch.uidvalidity
    state.polled_at = utcnow()
    state.last_error = None
    await session.flush()
    return PollResult(counts["stored"], counts["duplicate"], counts["ignored"])


def make_poll(tenants: TenantContextStore, box: SecretBox, events: ConversationEvents) -> Handler:
    """The ``email.poll`` handler: poll the job's connection, then queue its next poll. A
    connection removed, paused, or no longer reading by IMAP ends its chain (resuming it, or
    setting it back to IMAP, starts a new one)."""

    async def poll(session: AsyncSession, job: OutboxJob) -> None:
        tenant = await tenants.by_id(job.tenant_id, session=session)
        wanted = str(job.payload.get("connection_id"))
        connection = next((c for c in tenant.channels if str(c.id) == wanted), None)
        if connection is None or not connection.active:
            return
        if not polls(connection.kind, dict(connection.options)):
            return
        result = await poll_connection(session, tenant, connection, box=box, events=events)
        if result.stored:
            log.info("email.polled", tenant=tenant.slug, stored=result.stored)
        seconds = int(connection.options.get("poll_seconds") or 60)
        await schedule_poll(
            session,
            tenant.id,
            connection.id,
            dict(connection.options),
            at=next_slot(utcnow(), seconds),
        )

    return poll


async def schedule_polls(db: Database) -> int:
    """Give every IMAP connection a poll now unless its slot has one (at start-up)."""

    async with db.session() as session, system_scope(session):
        rows = [
            (row.tenant_id, row.id, dict(row.options))
            for row in await session.scalars(
                select(ChannelConnection).where(ChannelConnection.kind == "email")
            )
        ]
    added = 0
    for tenant_id, connection_id, options in rows:
        if not polls("email", options):
            continue
        async with db.session() as session:
            await schedule_poll(session, tenant_id, connection_id, options)
            added += 1
    return added


__all__ = ["POLL_JOB", "make_poll", "poll_connection", "schedule_polls"]
