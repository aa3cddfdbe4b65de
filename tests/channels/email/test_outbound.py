"""Email out: the engine's answer reaches a real SMTP server as one multipart email on the
customer's thread; SMTP refusals and outages are sorted for the job runner; a reply that offers
WhatsApp carries a transfer code that moves the conversation there."""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage
from urllib.parse import unquote

import httpx
import pytest

from frontdesk.channels.base import Outbound
from frontdesk.channels.email.adapter import EmailAdapter
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Message
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater
from frontdesk.delivery.service import list_jobs, retry_dead
from frontdesk.engine.reply import Action, Link, QuickReply, Reply
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.channels import meta
from tests.channels.email import payloads
from tests.channels.email.helpers import (
    WEBHOOK_SECRET,
    connect_email,
    eventually,
    messages_of,
    thread_of,
)
from tests.channels.email.smtp_server import SmtpServer
from tests.conftest import free_port
from tests.factories import SampleTenant, connect_whatsapp, make_tenant

AUTH = ("frontdesk", WEBHOOK_SECRET)


async def inbound(client: httpx.AsyncClient, email: EmailMessage) -> None:
    response = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(email), auth=AUTH
    )
    assert response.status_code == 200, response.text


async def sent_replies(
    runtime: Runtime, tenant: SampleTenant, status: str = "sent"
) -> list[Message]:
    """The tenant's outbound messages, once one of them has reached ``status``."""
    for _ in range(300):
        rows = [m for m in await messages_of(runtime, tenant) if m.direction == "out"]
        if any(m.status == status for m in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"no reply reached {status}")


def adapter_of(runtime: Runtime) -> EmailAdapter:
    adapter = runtime.channels.get("email")
    assert isinstance(adapter, EmailAdapter)
    return adapter


async def test_the_engines_answer_goes_out_once_on_the_customers_thread(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    first = payloads.mime(to=address, references="<older@mail.cliente.co>")
    await inbound(client, first)
    await inbound(client, first)  # the provider's retry: still one answer
    (reply,) = await sent_replies(runtime, tenant)
    (email,) = smtp.recorder.to(payloads.CUSTOMER)
    customer_id = str(first["Message-ID"]).strip("<>")
    (thread,) = await thread_of(runtime, tenant)
    assert str(email["From"]) == f"Acme Soporte <{address}>"
    assert str(email["To"]) == payloads.CUSTOMER
    assert str(email["Subject"]) == "Re: Tienda virtual"
    assert str(email["In-Reply-To"]) == f"<{customer_id}>"
    # A long list is folded onto lines of its own: the ids, not the whitespace, are what count.
    assert str(email["References"]).split() == ["<older@mail.cliente.co>", f"<{customer_id}>"]
    assert str(email["Reply-To"]) == f"Acme Soporte <reply+{thread.token}@reply.acme.example>"
    assert str(email["Auto-Submitted"]) == "auto-replied"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert " ".join(reply.text.split())[:40] in " ".join(text.get_content().split())
    assert html.get_content().startswith('<div dir="auto">')
    assert reply.provider_id == str(email["Message-ID"]).strip("<>")
    assert reply.provider_id.endswith("@reply.acme.example")
    # Our Message-ID joins the thread: the next email answers it too.
    (thread,) = await thread_of(runtime, tenant)
    assert thread.references[-1] == reply.provider_id
    # The customer's answer to our email finds the thread by its Message-ID alone.
    answer = payloads.mime(
        to=address, text="Perfecto, gracias", in_reply_to=str(email["Message-ID"])
    )
    await inbound(client, answer)
    rows = await messages_of(runtime, tenant)
    assert len({m.conversation_id for m in rows}) == 1
    assert len(smtp.recorder.to(payloads.CUSTOMER)) >= 1


async def test_auto_replies_are_never_answered(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    out_of_office = payloads.mime(
        to=address,
        subject="Respuesta automática: Tienda virtual",
        text="Estoy fuera de la oficina hasta el lunes.",
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    await inbound(client, out_of_office)
    await asyncio.sleep(0.5)  # room for a wrong answer to go out
    assert smtp.recorder.received == []
    assert await messages_of(runtime, tenant) == []


async def test_a_bounce_of_our_email_marks_it_failed(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    await inbound(client, payloads.mime(to=address))
    (reply,) = await sent_replies(runtime, tenant)
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.cliente.co>"
    report["To"] = address
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = payloads.msgid()
    report.set_content("The mail system could not deliver your message.")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    original = EmailMessage()
    original["Message-ID"] = f"<{reply.provider_id}>"
    original["To"] = payloads.CUSTOMER
    wrapped = EmailMessage()
    wrapped.set_content(original)  # message/rfc822: the undelivered message's headers
    report.attach(wrapped)
    raw = {"email": report.as_string(), "to": address, "from": str(report["From"])}
    response = await client.post("/webhooks/email/sendgrid", data=raw, auth=AUTH)
    assert response.json()["ignored"] == 1
    (failed,) = await sent_replies(runtime, tenant, status="failed")
    assert failed.payload["error"]["code"] == "bounce"


async def test_smtp_4xx_waits_5xx_fails_and_an_unreachable_server_is_retried(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    adapter = adapter_of(runtime)
    tenant = await make_tenant(runtime)
    await connect_email(runtime, tenant, smtp_port=smtp.port)
    context = await runtime.tenants.by_id(tenant.context.id)
    outbound = Outbound(
        message_id=uuid.uuid4(),
        reply=Reply(text="Hola <b>Luisa</b> & equipo", language="es"),
        recipient=payloads.CUSTOMER,
    )
    smtp.recorder.fail("451 4.7.1 Greylisted, try again later")
    with pytest.raises(RetryLater) as later:
        await adapter.send(context, outbound)
    assert later.value.retry_after is not None
    assert later.value.retry_after > 0
    smtp.recorder.fail("550 5.1.1 No such user")
    with pytest.raises(PermanentFailure) as refused:
        await adapter.send(context, outbound)
    assert refused.value.code == "550"
    result = await adapter.send(context, outbound)
    (email,) = smtp.recorder.to(payloads.CUSTOMER)
    assert result.provider_id == str(email["Message-ID"]).strip("<>")
    html = email.get_body(preferencelist=("html",))
    assert html is not None
    assert "&lt;b&gt;Luisa&lt;/b&gt; &amp; equipo" in html.get_content()
    assert "Auto-Submitted" in email  # no person wrote it
    down = await make_tenant(runtime)
    await connect_email(runtime, down, smtp_port=free_port())  # nothing listens there
    with pytest.raises(DeliveryFailed) as unreachable:
        await adapter.send(await runtime.tenants.by_id(down.context.id), outbound)
    assert not isinstance(unreachable.value, RetryLater | PermanentFailure)


async def test_a_refused_recipient_fails_the_reply_for_good(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    smtp.recorder.fail("550 5.1.1 Mailbox unavailable", times=5)
    await inbound(client, payloads.mime(to=address))
    (failed,) = await sent_replies(runtime, tenant, status="failed")
    assert failed.payload["error"]["code"] == "550"
    assert len(smtp.recorder.refused) == 1  # permanent: not tried again
    assert smtp.recorder.received == []


async def test_an_email_conversation_moves_to_whatsapp_with_the_code_in_the_reply(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    phone_number_id = await connect_whatsapp(runtime, tenant)
    await inbound(client, payloads.mime(to=address))
    (received,) = await messages_of(runtime, tenant)
    context = await runtime.tenants.by_id(tenant.context.id)
    reply = Reply(
        text="¿Seguimos por WhatsApp? Allí te atiende un asesor.",
        language="es",
        quick_replies=(QuickReply("Sí", "yes"),),
        links=(Link("Escríbenos por WhatsApp", "https://wa.me/573001234567"),),
        actions=(Action("transfer", {"channel": "whatsapp"}),),
    )
    async with runtime.db.session() as session:
        conversation = await conversations.get_conversation(
            session, context, received.conversation_id
        )
        message = await conversations.get_message(session, context, received.id)
        await conversations.append_reply(
            session,
            context,
            conversation,
            reply,
            in_reply_to=message,
            events=runtime.hub,
            deliver=True,
        )
    await sent_replies(runtime, tenant)
    (email,) = smtp.recorder.to(payloads.CUSTOMER)
    text = email.get_body(preferencelist=("plain",))
    assert text is not None
    link = re.search(r"https://wa\.me/\S+", text.get_content())
    assert link is not None
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", unquote(link.group(0)))
    assert code is not None
    assert "Continúa esta conversación por WhatsApp" in text.get_content()
    assert (
        "https://wa.me/573001234567\n" not in text.get_content() + "\n"
    )  # the plain link gave way
    body, headers = meta.signed(
        meta.notification(phone_number_id, messages=[meta.text(f"Hola, código {code.group(0)}")])
    )
    response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 200, response.text

    async def moved() -> bool:
        rows = await messages_of(runtime, tenant)
        return any(m.channel == "whatsapp" and m.direction == "in" for m in rows)

    for _ in range(100):
        if await moved():
            break
        await asyncio.sleep(0.05)
    rows = await messages_of(runtime, tenant)
    whatsapp = next(m for m in rows if m.channel == "whatsapp" and m.direction == "in")
    assert whatsapp.conversation_id == received.conversation_id
    assert whatsapp.payload.get("transferred_from") == "email"


async def test_a_persons_answer_continues_the_thread_without_the_automatic_mark(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    from tests.factories import make_secret_key

    tenant = await make_tenant(runtime, with_pack=False)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    question = payloads.mime(to=address, subject="Cotización")
    await inbound(client, question)
    (received,) = await messages_of(runtime, tenant)
    headers = {"Authorization": f"Bearer {await make_secret_key(runtime, tenant)}"}
    answer = await client.post(
        f"/v1/conversations/{received.conversation_id}/messages",
        json={"text": "Hola Luisa, te envío la cotización hoy.", "agent": "Laura"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    for _ in range(300):  # the person's answer (beside the "an advisor joined" notice)
        rows = [m for m in await messages_of(runtime, tenant) if m.sender == "agent"]
        if rows and rows[0].provider_id:
            break
        await asyncio.sleep(0.05)
    (sent,) = rows
    (email,) = smtp.recorder.to(payloads.CUSTOMER)
    assert "Auto-Submitted" not in email
    assert str(email["Subject"]) == "Re: Cotización"
    assert str(email["In-Reply-To"]) == str(question["Message-ID"])
    assert sent.provider_id == str(email["Message-ID"]).strip("<>")


async def test_a_server_down_for_a_while_gets_the_reply_once_it_is_back(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    port = free_port()
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=port)
    await inbound(client, payloads.mime(to=address))
    for _ in range(200):  # the first attempt finds nothing listening
        async with runtime.db.session() as session, system_scope(session):
            jobs = await list_jobs(session, tenant_id=tenant.context.id, kind="delivery.send")
        if jobs and jobs[0].attempts >= 1 and jobs[0].last_error:
            break
        await asyncio.sleep(0.05)
    assert "unreachable" in (jobs[0].last_error or "")
    with SmtpServer(port) as server:
        (reply,) = await sent_replies(runtime, tenant)
        assert len(server.recorder.to(payloads.CUSTOMER)) == 1
    assert reply.provider_id is not None


async def test_a_dead_letter_is_sent_when_replayed(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    smtp.recorder.fail("554 5.7.1 Relay access denied")
    await inbound(client, payloads.mime(to=address))
    await sent_replies(runtime, tenant, status="failed")
    assert smtp.recorder.received == []
    # What `frontdesk jobs retry` does, as the operator (across tenants).
    async with runtime.db.session() as session, system_scope(session):
        assert await retry_dead(session, tenant_id=tenant.context.id)
    (reply,) = await sent_replies(runtime, tenant)
    assert len(smtp.recorder.to(payloads.CUSTOMER)) == 1
    assert reply.provider_id is not None


async def test_each_answer_goes_to_whoever_asked_on_a_shared_thread(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(runtime)
    address = await connect_email(runtime, tenant, smtp_port=smtp.port)
    await inbound(client, payloads.mime(to=address))
    await eventually(lambda: smtp.recorder.to(payloads.CUSTOMER))
    (thread,) = await thread_of(runtime, tenant)
    colleague = "pedro@cliente.co"
    await inbound(
        client,
        payloads.mime(
            to=f"reply+{thread.token}@reply.acme.example",
            sender=f"Pedro <{colleague}>",
            text="¿Incluye el dominio?",
        ),
    )
    await eventually(lambda: smtp.recorder.to(colleague))
    await inbound(client, payloads.mime(to=address, text="¿Y el hosting?"))
    await eventually(lambda: len(smtp.recorder.to(payloads.CUSTOMER)) == 2)
    assert len(smtp.recorder.to(colleague)) == 1
    rows = await messages_of(runtime, tenant)
    assert len({m.conversation_id for m in rows}) == 1
