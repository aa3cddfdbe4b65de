"""IMAP polling against a real dovecot: what is already in the mailbox is noted, not answered;
each new message is read once and stored once; automatic mail is skipped; the poll job keeps
its own schedule; a refused login is recorded, not raised."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.channels.connections import update_connection
from frontdesk.channels.email.imap import POLL_JOB, PollResult, poll_connection
from frontdesk.channels.email.models import EmailMailbox
from frontdesk.delivery.models import OutboxJob
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.channels.email import payloads
from tests.channels.email.dovecot import PASSWORD, USER, Dovecot
from tests.channels.email.helpers import CREDENTIALS, connect_email, messages_of
from tests.channels.email.smtp_server import SmtpServer
from tests.factories import SampleTenant, make_tenant


async def imap_tenant(
    runtime: Runtime,
    dovecot: Dovecot,
    smtp: SmtpServer,
    *,
    poll_seconds: int = 3600,
    password: str = PASSWORD,
    with_pack: bool = False,
) -> tuple[SampleTenant, str]:
    tenant = await make_tenant(runtime, with_pack=with_pack)
    address = await connect_email(
        runtime,
        tenant,
        smtp_port=smtp.port,
        inbound="imap",
        options={
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_tls": "none",
            "poll_seconds": poll_seconds,
        },
        credentials=CREDENTIALS | {"imap_username": USER, "imap_password": password},
    )
    return tenant, address


async def poll(runtime: Runtime, tenant: SampleTenant) -> PollResult:
    context = await runtime.tenants.by_id(tenant.context.id)
    connection = context.channel("email")
    assert connection is not None
    async with runtime.db.session() as session:
        return await poll_connection(
            session, context, connection, box=runtime.box, events=runtime.hub
        )


async def pending_polls(runtime: Runtime, tenant: SampleTenant) -> int:
    async with runtime.db.session() as session, system_scope(session):
        jobs = await session.scalars(
            select(OutboxJob).where(
                OutboxJob.tenant_id == tenant.context.id,
                OutboxJob.kind == POLL_JOB,
                OutboxJob.status.in_(["pending", "running"]),
            )
        )
        return len(jobs.all())


async def noted(runtime: Runtime, tenant: SampleTenant) -> None:
    """Wait for the connection's first poll (queued when it was added) to note the mailbox."""
    for _ in range(300):
        async with runtime.db.session() as session, system_scope(session):
            row = await session.scalar(
                select(EmailMailbox).where(EmailMailbox.tenant_id == tenant.context.id)
            )
        if row is not None and row.uidvalidity is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the first poll did not run")


async def mailbox_state(runtime: Runtime, tenant: SampleTenant) -> EmailMailbox:
    async with runtime.db.session() as session, system_scope(session):
        row = await session.scalar(
            select(EmailMailbox).where(EmailMailbox.tenant_id == tenant.context.id)
        )
    assert row is not None
    return row


async def test_new_mail_is_read_once_and_stored_once(
    runtime: Runtime, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    dovecot.deliver(payloads.mime(to=USER, text="Un correo viejo, de antes de conectar"))
    tenant, _address = await imap_tenant(runtime, dovecot, smtp)
    await noted(runtime, tenant)
    first = await poll(runtime, tenant)
    assert first == PollResult()  # the mailbox's position noted; old mail is not answered
    question = payloads.mime(
        to=USER,
        text="Hola, ¿hacen tiendas virtuales?\n\nEnviado desde mi iPhone",
    )
    dovecot.deliver(question)
    dovecot.deliver(
        payloads.mime(
            to=USER, text="Fuera de la oficina", headers={"Auto-Submitted": "auto-replied"}
        )
    )
    second = await poll(runtime, tenant)
    assert second == PollResult(stored=1, ignored=1)
    (stored,) = await messages_of(runtime, tenant)
    assert stored.channel == "email"
    assert stored.text == "Hola, ¿hacen tiendas virtuales?"
    assert stored.external_id == str(question["Message-ID"]).strip("<>")
    assert await poll(runtime, tenant) == PollResult()  # fetched once
    dovecot.deliver(question)  # the same message again (another UID): stored once
    assert await poll(runtime, tenant) == PollResult(duplicates=1)
    assert len(await messages_of(runtime, tenant)) == 1
    state = await mailbox_state(runtime, tenant)
    assert state.last_uid == 4  # one old message, three new
    assert state.uidvalidity is not None
    assert state.last_error is None


async def test_the_poll_job_reads_the_mailbox_on_its_schedule_and_the_reply_goes_by_smtp(
    runtime: Runtime, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    tenant, _address = await imap_tenant(runtime, dovecot, smtp, poll_seconds=1, with_pack=True)
    await noted(runtime, tenant)
    dovecot.deliver(payloads.mime(to=USER, text="Hola, ¿cuánto cuesta una tienda virtual?"))
    for _ in range(400):
        if smtp.recorder.to(payloads.CUSTOMER):
            break
        await asyncio.sleep(0.05)
    (answer,) = smtp.recorder.to(payloads.CUSTOMER)
    assert str(answer["Subject"]) == "Re: Tienda virtual"
    rows = await messages_of(runtime, tenant)
    assert [m.direction for m in rows] == ["in", "out"]
    # Paused, the connection's chain ends: no poll job is left waiting for it.
    context = await runtime.tenants.by_id(tenant.context.id)
    connection = context.channel("email")
    assert connection is not None
    async with runtime.db.session() as session:
        await update_connection(
            session, runtime.box, context.id, connection.id, status="paused", actor="test"
        )
    for _ in range(100):
        if not await pending_polls(runtime, tenant):
            break
        await asyncio.sleep(0.05)
    assert await pending_polls(runtime, tenant) == 0


async def test_a_refused_login_is_recorded_not_raised(
    runtime: Runtime, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    tenant, _address = await imap_tenant(runtime, dovecot, smtp, password="not-the-password")
    result = await poll(runtime, tenant)
    assert result.error is not None
    assert (await mailbox_state(runtime, tenant)).last_error == result.error
    assert await messages_of(runtime, tenant) == []
