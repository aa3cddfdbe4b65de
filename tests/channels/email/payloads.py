"""Inbound-parse posts as the providers document them: SendGrid Inbound Parse (parsed and raw
MIME), Mailgun routes (signed) and Postmark inbound JSON, and raw RFC 5322 messages."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import orjson

CUSTOMER = "luisa.gomez@cliente.co"


def msgid() -> str:
    return make_msgid(domain="mail.cliente.co")


def mime(
    *,
    to: str,
    text: str = "Hola, ¿cuánto cuesta una tienda virtual?",
    sender: str = f"Luisa Gómez <{CUSTOMER}>",
    subject: str = "Tienda virtual",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id or msgid()
    if in_reply_to:
        email["In-Reply-To"] = in_reply_to
    if references:
        email["References"] = references
    for name, value in (headers or {}).items():
        email[name] = value
    if text:
        email.set_content(text)
        if html:
            email.add_alternative(html, subtype="html")
    elif html:
        email.set_content(html, subtype="html")
    if attachment:
        email.add_attachment(
            attachment[1], maintype="application", subtype="pdf", filename=attachment[0]
        )
    return email


def header_block(email: EmailMessage) -> str:
    return "".join(f"{name}: {value}\n" for name, value in email.items())


def sendgrid_form(email: EmailMessage) -> dict[str, str]:
    """SendGrid Inbound Parse's default (parsed) post of ``email``."""
    body = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    return {
        "headers": header_block(email),
        "dkim": "{@cliente.co : pass}",
        "to": str(email["To"]),
        "from": str(email["From"]),
        "subject": str(email["Subject"]),
        "text": body.get_content() if body is not None else "",
        "html": html.get_content() if html is not None else "",
        "sender_ip": "209.85.220.41",
        "envelope": orjson.dumps({"to": [str(email["To"])], "from": CUSTOMER}).decode(),
        "attachments": "0",
        "charsets": orjson.dumps({"to": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}).decode(),
        "SPF": "pass",
        "spam_score": "0.1",
    }


def sendgrid_raw(email: EmailMessage) -> dict[str, str]:
    """SendGrid's post with "POST the raw, full MIME message" checked."""
    return {
        "email": email.as_string(),
        "to": str(email["To"]),
        "from": str(email["From"]),
        "subject": str(email["Subject"]),
        "envelope": orjson.dumps({"to": [str(email["To"])], "from": CUSTOMER}).decode(),
        "sender_ip": "209.85.220.41",
    }


def mailgun_sign(
    key: str, *, timestamp: int | None = None, token: str | None = None
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "token": token, "signature": signature}


def mailgun_form(email: EmailMessage, key: str, **signing: Any) -> dict[str, str]:
    """A Mailgun route's parsed post of ``email``, signed with ``key``."""
    body = email.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    form = {
        "recipient": str(email["To"]),
        "sender": CUSTOMER,
        "from": str(email["From"]),
        "subject": str(email["Subject"]),
        "body-plain": text,
        "stripped-text": text.split("\n\nEl ")[0].split("\n\nOn ")[0].strip(),
        "stripped-signature": "",
        "body-html": "",
        "attachment-count": "0",
        "message-headers": orjson.dumps([[k, str(v)] for k, v in email.items()]).decode(),
        "Message-Id": str(email["Message-ID"]),
        "To": str(email["To"]),
        "From": str(email["From"]),
        "Subject": str(email["Subject"]),
    }
    for name in ("In-Reply-To", "References"):
        if email[name]:
            form[name] = str(email[name])
    return form | mailgun_sign(key, **signing)


def postmark_json(email: EmailMessage, *, stripped: str | None = None) -> dict[str, Any]:
    """Postmark's inbound webhook JSON for ``email``."""
    body = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    text = body.get_content() if body is not None else ""
    to = str(email["To"])
    return {
        "FromName": "Luisa Gómez",
        "MessageStream": "inbound",
        "From": CUSTOMER,
        "FromFull": {"Email": CUSTOMER, "Name": "Luisa Gómez", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": to,
        "Subject": str(email["Subject"]),
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": str(email["Date"]),
        "TextBody": text,
        "HtmlBody": html.get_content() if html is not None else "",
        "StrippedTextReply": stripped if stripped is not None else text,
        "Tag": "",
        "Headers": [
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "-0.1"},
            {"Name": "MIME-Version", "Value": "1.0"},
            *(
                {"Name": k, "Value": str(v)}
                for k, v in email.items()
                if k.lower() not in ("from", "to", "subject", "date")
            ),
        ],
        "Attachments": [],
    }
