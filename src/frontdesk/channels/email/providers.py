"""Inbound-parse webhooks of email providers → ``IncomingEmail``.

* **SendGrid Inbound Parse** posts ``multipart/form-data``: ``from``, ``to``, ``cc``,
  ``subject``, ``text``, ``html``, ``headers`` (the raw header block), ``envelope`` (JSON),
  ``attachment-info`` (JSON) and the files ``attachment1``…; with "POST the raw, full MIME
  message" checked, the message is in ``email`` instead.
* **Mailgun** routes (``forward()``) post ``multipart/form-data`` (or urlencoded):
  ``recipient``, ``sender``, ``from``, ``subject``, ``body-plain``, ``stripped-text``,
  ``body-html``, ``message-headers`` (JSON pairs), the headers ``Message-Id``, ``In-Reply-To``,
  ``References`` as fields, files ``attachment-1``…, and the signature ``timestamp``, ``token``,
  ``signature``; a route to a URL ending in ``mime`` posts the raw message as ``body-mime``.
* **Postmark** inbound posts JSON: ``FromFull``, ``ToFull``, ``CcFull``, ``Subject``,
  ``Headers`` (name/value pairs, with the ``Message-ID``), ``MessageID`` (Postmark's own id),
  ``TextBody``, ``HtmlBody``, ``StrippedTextReply``, ``Attachments`` (base64, counted only).

Only SendGrid's and Mailgun's raw modes carry the full MIME message; the parsed modes give the
headers we need (Message-ID, In-Reply-To, References, and those that mark automatic mail).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from email import policy
from email.parser import Parser
from typing import Any, Final

import orjson

from frontdesk.channels.email.message import (
    MAX_ATTACHMENTS,
    Attachment,
    IncomingEmail,
    address,
    addresses,
    clean_subject,
    header_map,
    message_ids,
    parse_mime,
)
from frontdesk.channels.email.text import html_to_text

PROVIDERS: Final = ("sendgrid", "mailgun", "postmark")
MAILGUN_MAX_AGE: Final = timedelta(minutes=5)
"""A Mailgun post signed longer ago than this (or that far in the future) is refused."""
MAX_FIELD: Final = 200_000


@dataclass(frozen=True, slots=True)
class Upload:
    """A file of a form post, known by its metadata only."""

    field: str
    filename: str
    content_type: str
    size: int


def _str(value: Any, limit: int = MAX_FIELD) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _json(value: str) -> Any:
    try:
        return orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None


def _headers_block(block: str) -> dict[str, str]:
    parsed = Parser(policy=policy.compat32).parsestr(block[:100_000] + "\n\n", headersonly=True)
    return header_map((k, str(v)) for k, v in parsed.items())


def _with_id(email: IncomingEmail) -> IncomingEmail:
    """An email without a Message-ID gets one made of its content (a retry makes the same)."""
    if email.message_id:
        return email
    digest = hashlib.sha256(
        "\x00".join((email.sender, email.subject, email.text[:5000], str(email.date))).encode()
    ).hexdigest()
    return _replace(email, message_id=f"sha256:{digest}")


def _replace(email: IncomingEmail, **changes: Any) -> IncomingEmail:
    return replace(email, **changes)


def _uploads(files: Sequence[Upload]) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(filename=f.filename[:255], content_type=f.content_type[:127], size=f.size)
        for f in files[:MAX_ATTACHMENTS]
    )


def sendgrid(form: Mapping[str, str], files: Sequence[Upload] = ()) -> IncomingEmail:
    """A SendGrid Inbound Parse post (parsed, or raw MIME in ``email``)."""
    envelope = _json(_str(form.get("envelope"), 10_000))
    envelope_to = envelope.get("to") if isinstance(envelope, dict) else None
    extra = (
        [", ".join(v for v in envelope_to if isinstance(v, str))]
        if isinstance(envelope_to, list)
        else []
    )
    raw = _str(form.get("email"), 25 * 1024 * 1024)
    if raw:
        email = parse_mime(raw.encode("utf-8", "surrogateescape"))
        return _with_id(_replace(email, recipients=addresses([*email.recipients, *extra])))
    headers = _headers_block(_str(form.get("headers")))
    sender, name = address(_str(form.get("from"), 2000))
    text = _str(form.get("text")) or html_to_text(_str(form.get("html")))
    info = _json(_str(form.get("attachment-info"), 50_000))
    uploads = list(files)
    if not uploads and isinstance(info, dict):  # files not kept: the info still names them
        uploads = [
            Upload(
                str(k), _str(v.get("filename") or v.get("name"), 255), _str(v.get("type"), 127), 0
            )
            for k, v in info.items()
            if isinstance(v, dict)
        ]
    return _with_id(
        IncomingEmail(
            message_id=next(iter(message_ids(headers.get("message-id"))), ""),
            sender=sender,
            sender_name=name,
            recipients=addresses([form.get("to"), form.get("cc"), *extra]),
            subject=clean_subject(form.get("subject")),
            text=text,
            in_reply_to=message_ids(headers.get("in-reply-to")),
            references=message_ids(headers.get("references")),
            headers=headers,
            attachments=_uploads(uploads),
        )
    )


def mailgun(form: Mapping[str, str], files: Sequence[Upload] = ()) -> IncomingEmail:
    """A Mailgun route's post (parsed, or raw MIME in ``body-mime``)."""
    raw = _str(form.get("body-mime"), 25 * 1024 * 1024)
    extra = [_str(form.get("recipient"), 10_000)]
    if raw:
        email = parse_mime(raw.encode("utf-8", "surrogateescape"))
        return _with_id(_replace(email, recipients=addresses([*email.recipients, *extra])))
    pairs = _json(_str(form.get("message-headers"), 200_000))
    listed = (
        [(str(p[0]), str(p[1])) for p in pairs if isinstance(p, list) and len(p) == 2]
        if isinstance(pairs, list)
        else []
    )
    fields = [(k, v) for k, v in form.items() if k[:1].isupper()]  # header fields: Message-Id, …
    headers = header_map([*listed, *fields])
    sender, name = address(_str(form.get("from"), 2000) or _str(form.get("sender"), 2000))
    text = _str(form.get("body-plain")) or html_to_text(_str(form.get("body-html")))
    return _with_id(
        IncomingEmail(
            message_id=next(iter(message_ids(headers.get("message-id"))), ""),
            sender=sender,
            sender_name=name,
            recipients=addresses([form.get("To"), form.get("Cc"), *extra]),
            subject=clean_subject(form.get("subject") or form.get("Subject")),
            text=text,
            in_reply_to=message_ids(headers.get("in-reply-to")),
            references=message_ids(headers.get("references")),
            headers=headers,
            attachments=_uploads(files),
            stripped=_str(form.get("stripped-text")) or None,
        )
    )


def postmark(payload: Mapping[str, Any]) -> IncomingEmail:
    """A Postmark inbound webhook's JSON."""
    pairs = payload.get("Headers")
    listed = (
        [
            (_str(h.get("Name"), 200), _str(h.get("Value"), 2000))
            for h in pairs
            if isinstance(h, dict)
        ]
        if isinstance(pairs, list)
        else []
    )
    headers = header_map(listed)
    full = payload.get("FromFull")
    full = full if isinstance(full, dict) else {}
    sender, _ = address(_str(full.get("Email"), 320) or _str(payload.get("From"), 2000))
    name = _str(full.get("Name"), 200) or _str(payload.get("FromName"), 200) or None
    people = [
        _str(person.get("Email"), 320)
        for key in ("ToFull", "CcFull", "BccFull")
        for person in _list(payload.get(key))
        if isinstance(person, dict)
    ]
    own_id = _str(payload.get("MessageID"), 100)
    attachments = payload.get("Attachments")
    files = [
        Upload(
            "attachment",
            _str(a.get("Name"), 255),
            _str(a.get("ContentType"), 127),
            _int(a.get("ContentLength")),
        )
        for a in _list(attachments)
        if isinstance(a, dict)
    ]
    return _with_id(
        IncomingEmail(
            message_id=next(iter(message_ids(headers.get("message-id"))), "")
            or (f"postmark:{own_id}" if own_id else ""),
            sender=sender,
            sender_name=name,
            recipients=addresses([", ".join(people), _str(payload.get("OriginalRecipient"), 320)]),
            subject=clean_subject(_str(payload.get("Subject"), 2000)),
            text=_str(payload.get("TextBody")) or html_to_text(_str(payload.get("HtmlBody"))),
            in_reply_to=message_ids(headers.get("in-reply-to")),
            references=message_ids(headers.get("references")),
            headers=headers,
            attachments=_uploads(files),
            stripped=_str(payload.get("StrippedTextReply")) or None,
        )
    )


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of a post: HMAC-SHA256 of ``timestamp + token``, hex."""
    return hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()


def mailgun_signed(signing_key: str, timestamp: str, token: str, signature: str) -> bool:
    """Whether ``signature`` is Mailgun's for this timestamp and token (constant time)."""
    expected = mailgun_signature(signing_key, timestamp, token)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
