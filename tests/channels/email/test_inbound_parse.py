"""Inbound-parse webhooks: SendGrid (parsed and raw), Mailgun (signed) and Postmark posts,
each stored once on the right tenant, authenticated by the connection's secret or signature."""

from __future__ import annotations

import time

import httpx
import pytest

from frontdesk.runtime import Runtime
from tests.channels.email import payloads
from tests.channels.email.helpers import (
    CREDENTIALS,
    MAILGUN_KEY,
    WEBHOOK_SECRET,
    connect_email,
    messages_of,
    thread_of,
)
from tests.channels.email.smtp_server import SmtpServer
from tests.factories import SampleTenant, make_tenant

AUTH = ("frontdesk", WEBHOOK_SECRET)


async def tenant_with(runtime: Runtime, smtp: SmtpServer, inbound: str) -> tuple[SampleTenant, str]:
    tenant = await make_tenant(runtime, with_pack=False)  # stored, not answered: no pack
    return tenant, await connect_email(runtime, tenant, smtp_port=smtp.port, inbound=inbound)


async def test_sendgrid_parsed_post_is_stored_once_with_its_thread(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    email = payloads.mime(
        to=address,
        text="Hola, quiero una tienda virtual.\n\nGracias,\nLuisa\n\n"
        "El lun, 24 nov 2026 a las 10:00, Acme <x@acme.example> escribió:\n> ¿En qué te ayudo?",
    )
    form = payloads.sendgrid_form(email)
    first = await client.post("/webhooks/email/sendgrid", data=form, auth=AUTH)
    assert first.status_code == 200, first.text
    assert first.json() == {"messages": 1, "duplicates": 0, "ignored": 0}
    again = await client.post("/webhooks/email/sendgrid", data=form, auth=AUTH)
    assert again.json() == {"messages": 0, "duplicates": 1, "ignored": 0}
    (stored,) = await messages_of(runtime, tenant)
    assert stored.channel == "email"
    assert stored.text == "Hola, quiero una tienda virtual.\n\nGracias,\nLuisa"
    assert stored.external_id == str(email["Message-ID"]).strip("<>")
    assert stored.payload["subject"] == "Tienda virtual"
    (thread,) = await thread_of(runtime, tenant)
    assert thread.conversation_id == stored.conversation_id
    assert thread.subject == "Tienda virtual"
    assert thread.references == [stored.external_id]


async def test_sendgrid_raw_mime_post_with_an_attachment(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    email = payloads.mime(
        to=address,
        text="",
        html="<p>Adjunto el <b>brief</b> &amp; el logo.</p><div class='gmail_quote'>old</div>",
        attachment=("brief.pdf", b"%PDF-1.4 fake"),
    )
    response = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_raw(email), auth=AUTH
    )
    assert response.status_code == 200, response.text
    (stored,) = await messages_of(runtime, tenant)
    assert stored.text == "Adjunto el brief & el logo."
    assert stored.payload["attachments"] == [
        {"filename": "brief.pdf", "content_type": "application/pdf", "size": 13}
    ]


async def test_sendgrid_and_postmark_need_the_connections_basic_auth_secret(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    form = payloads.sendgrid_form(payloads.mime(to=address))
    for headers in ({}, {"Authorization": "Basic ZnJvbnRkZXNrOm5vdC10aGUtc2VjcmV0"}):
        refused = await client.post("/webhooks/email/sendgrid", data=form, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    # The right secret on another provider's route is refused too.
    other = await client.post(
        "/webhooks/email/postmark",
        json=payloads.postmark_json(payloads.mime(to=address)),
        auth=AUTH,
    )
    assert other.status_code == 401
    assert await messages_of(runtime, tenant) == []


async def test_postmark_inbound_json_uses_the_stripped_reply(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "postmark")
    email = payloads.mime(to=address, text="Sí, me interesa.\n\nOn Mon wrote:\n> hola")
    body = payloads.postmark_json(email, stripped="Sí, me interesa.")
    response = await client.post("/webhooks/email/postmark", json=body, auth=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["messages"] == 1
    (stored,) = await messages_of(runtime, tenant)
    assert stored.text == "Sí, me interesa."
    assert stored.external_id == str(email["Message-ID"]).strip("<>")
    again = await client.post("/webhooks/email/postmark", json=body, auth=AUTH)
    assert again.json()["duplicates"] == 1


async def test_mailgun_signature_good_bad_stale_and_replayed(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "mailgun")
    email = payloads.mime(to=address)
    url = "/webhooks/email/mailgun"
    bad = payloads.mailgun_form(email, "another-signing-key")
    assert (await client.post(url, data=bad)).status_code == 401
    stale = payloads.mailgun_form(email, MAILGUN_KEY, timestamp=int(time.time()) - 3600)
    assert (await client.post(url, data=stale)).status_code == 401
    unsigned = {
        k: v for k, v in payloads.mailgun_form(email, MAILGUN_KEY).items() if k != "signature"
    }
    assert (await client.post(url, data=unsigned)).status_code == 401
    assert await messages_of(runtime, tenant) == []
    good = payloads.mailgun_form(email, MAILGUN_KEY)
    accepted = await client.post(url, data=good)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["messages"] == 1
    # The same signed token again, even with another body, is a replay.
    forged = good | {"body-plain": "otro texto", "stripped-text": "otro texto"}
    replayed = await client.post(url, data=forged)
    assert replayed.status_code == 401
    assert replayed.json()["type"].endswith("replayed-message")
    # Mailgun's own retry is signed anew: the Message-ID keeps it from being stored twice.
    retry = await client.post(url, data=payloads.mailgun_form(email, MAILGUN_KEY))
    assert retry.json() == {"messages": 0, "duplicates": 1, "ignored": 0}
    (stored,) = await messages_of(runtime, tenant)
    assert stored.text == "Hola, ¿cuánto cuesta una tienda virtual?"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"List-Id": "<ofertas.tienda.example>"},
    ],
)
async def test_automatic_mail_is_neither_stored_nor_answered(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, headers: dict[str, str]
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    email = payloads.mime(to=address, text="Estoy fuera de la oficina.", headers=headers)
    response = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(email), auth=AUTH
    )
    assert response.json() == {"messages": 0, "duplicates": 0, "ignored": 1}
    assert await messages_of(runtime, tenant) == []


async def test_mailer_daemon_is_ignored_and_unknown_recipients_refused(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    bounce = payloads.mime(to=address, sender="Mail Delivery System <MAILER-DAEMON@mx.cliente.co>")
    response = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(bounce), auth=AUTH
    )
    assert response.json()["ignored"] == 1
    stranger = payloads.mime(to="nadie@otro.example")
    unknown = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(stranger), auth=AUTH
    )
    assert unknown.status_code == 401
    broken = await client.post(
        "/webhooks/email/postmark", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert await messages_of(runtime, tenant) == []


async def test_a_reply_address_or_references_find_the_thread_and_a_colleague_joins_it(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    first = payloads.mime(to=address)
    await client.post("/webhooks/email/sendgrid", data=payloads.sendgrid_form(first), auth=AUTH)
    (thread,) = await thread_of(runtime, tenant)
    reply_to = f"reply+{thread.token}@reply.acme.example"
    # A colleague answers on the thread's reply address, from an address we do not know.
    colleague = payloads.mime(
        to=reply_to, sender="Pedro <pedro@cliente.co>", text="Yo también estoy en copia."
    )
    response = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(colleague), auth=AUTH
    )
    assert response.json()["messages"] == 1, response.text
    # The customer answers by References only (to the main address).
    follow = payloads.mime(to=address, text="¿Y el precio?", references=str(first["Message-ID"]))
    await client.post("/webhooks/email/sendgrid", data=payloads.sendgrid_form(follow), auth=AUTH)
    rows = await messages_of(runtime, tenant)
    assert len(rows) == 3
    assert len({m.conversation_id for m in rows}) == 1
    (thread,) = await thread_of(runtime, tenant)
    assert thread.references[-1] == str(follow["Message-ID"]).strip("<>")


async def test_another_tenant_cannot_reach_this_tenants_threads(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    victim, victim_address = await tenant_with(runtime, smtp, "sendgrid")
    first = payloads.mime(to=victim_address)
    await client.post("/webhooks/email/sendgrid", data=payloads.sendgrid_form(first), auth=AUTH)
    (thread,) = await thread_of(runtime, victim)
    attacker = await make_tenant(runtime, with_pack=False)
    secret = "the-attackers-own-webhook-secret"
    attacker_address = await connect_email(
        runtime, attacker, smtp_port=smtp.port, credentials=CREDENTIALS | {"webhook_secret": secret}
    )
    # The victim's reply address, posted with the attacker's own secret: refused.
    forged = payloads.mime(to=f"reply+{thread.token}@reply.acme.example", text="inyectado")
    refused = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(forged), auth=("x", secret)
    )
    assert refused.status_code == 401
    # The attacker's own address naming the victim's Message-ID: the attacker's own thread.
    crafted = payloads.mime(to=attacker_address, text="hola", in_reply_to=str(first["Message-ID"]))
    accepted = await client.post(
        "/webhooks/email/sendgrid", data=payloads.sendgrid_form(crafted), auth=("x", secret)
    )
    assert accepted.json()["messages"] == 1
    (victims,) = await messages_of(runtime, victim)
    (attackers,) = await messages_of(runtime, attacker)
    assert attackers.conversation_id != victims.conversation_id


async def test_an_email_with_a_large_attachment_fits_the_email_routes_own_body_limit(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "sendgrid")
    form = payloads.sendgrid_form(payloads.mime(to=address, text="Te mando la foto del local."))
    form |= {
        "attachments": "1",
        "attachment-info": '{"attachment1": {"filename": "local.jpg", "type": "image/jpeg"}}',
    }
    photo = b"\xff\xd8" + b"\x00" * 300_000  # well past the instance's 64 KiB default
    response = await client.post(
        "/webhooks/email/sendgrid",
        data=form,
        files={"attachment1": ("local.jpg", photo, "image/jpeg")},
        auth=AUTH,
    )
    assert response.status_code == 200, response.text
    (stored,) = await messages_of(runtime, tenant)
    assert stored.payload["attachments"] == [
        {"filename": "local.jpg", "content_type": "image/jpeg", "size": len(photo)}
    ]
    elsewhere = await client.post("/webhooks/whatsapp", content=photo)
    assert elsewhere.status_code == 413


async def test_mailgun_raw_mime_route(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer
) -> None:
    tenant, address = await tenant_with(runtime, smtp, "mailgun")
    email = payloads.mime(to=address, text="Mensaje completo en MIME.")
    form = {"recipient": address, "sender": payloads.CUSTOMER, "body-mime": email.as_string()}
    response = await client.post(
        "/webhooks/email/mailgun/mime", data=form | payloads.mailgun_sign(MAILGUN_KEY)
    )
    assert response.status_code == 200, response.text
    (stored,) = await messages_of(runtime, tenant)
    assert stored.text == "Mensaje completo en MIME."
