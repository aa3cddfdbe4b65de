"""One incoming email, whatever brought it (a provider's inbound-parse post, an IMAP mailbox):
who sent it, to whom, its Message-ID and thread, its text, its attachments (as metadata) and
whether a machine sent it.

Raw messages are parsed with the standard library (``email``, ``policy.default``). Every field
is bounded: a hostile message cannot make us store more than these limits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Final

from frontdesk.channels.email.text import html_to_text

MAX_RAW: Final = 25 * 1024 * 1024
MAX_TEXT: Final = 4000
MAX_SUBJECT: Final = 200
MAX_IDS: Final = 20
MAX_ATTACHMENTS: Final = 20
MAX_ADDRESSES: Final = 50
MAX_ID: Final = 250
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,998})>")
BULK: Final = frozenset({"bulk", "junk", "list", "auto_reply"})
DAEMONS: Final = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
AUTOMATION_HEADERS: Final = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-failed-recipients",
    "return-path",
    "content-type",
)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int

    def to_dict(self) -> dict[str, str | int]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


@dataclass(frozen=True, slots=True)
class IncomingEmail:
    """An email as we read it. ``text`` is the whole body as text (the plain part, else the
    HTML's text); ``stripped`` is the provider's own reply-only text when it gave one."""

    message_id: str
    sender: str
    sender_name: str | None
    recipients: tuple[str, ...]
    subject: str
    text: str
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    stripped: str | None = None
    date: datetime | None = None
    bounced_id: str | None = None
    """For a delivery report: the Message-ID of the message that could not be delivered."""

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The Message-IDs this email answers, nearest first, at most ``MAX_IDS``."""
        seen: dict[str, None] = {}
        for value in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(value, None)
        return tuple(seen)[:MAX_IDS]


def message_ids(value: str | None) -> tuple[str, ...]:
    """The Message-IDs in a header value (``<a@b> <c@d>``), without brackets, bounded."""
    if not value:
        return ()
    found = [bounded_id(m) for m in _MESSAGE_ID.findall(value[:20_000])]
    return tuple(found[-MAX_IDS:])


def bounded_id(value: str) -> str:
    """A Message-ID as we store it: without brackets, and hashed when absurdly long."""
    value = value.strip().strip("<>").strip()
    if len(value) <= MAX_ID:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def address(value: str | None) -> tuple[str, str | None]:
    """(address in lower case, display name) of one ``From``-like value; ("", None) if none."""
    name, addr = parseaddr((value or "")[:2000])
    addr = addr.strip().lower()
    if "@" not in addr or len(addr) > 254 or any(c.isspace() for c in addr):
        return "", None
    return addr, (name.strip()[:200] or None)


def addresses(values: Iterable[str | None]) -> tuple[str, ...]:
    """Every address in ``To``/``Cc``-like values, lower case, at most ``MAX_ADDRESSES``."""
    pairs = getaddresses([v[:20_000] for v in values if v])
    found: dict[str, None] = {}
    for _name, addr in pairs:
        addr = addr.strip().lower()
        if "@" in addr and len(addr) <= 254:
            found.setdefault(addr, None)
    return tuple(found)[:MAX_ADDRESSES]


def clean_subject(value: str | None) -> str:
    return " ".join((value or "").split())[:MAX_SUBJECT]


def automated(email: IncomingEmail) -> str | None:
    """Why a machine, not a person, sent ``email`` (RFC 3834 and common practice), or None.

    Auto-replies, bounces, mailing lists and bulk mail are never answered: answering them is
    how mail loops start."""
    headers = email.headers
    auto = headers.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"auto-submitted: {auto[:40]}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in headers:
            return name
    if headers.get("precedence", "").strip().lower() in BULK:
        return "precedence"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing list"
    if "x-failed-recipients" in headers or email.bounced_id is not None:
        return "bounce"
    if headers.get("content-type", "").lower().startswith("multipart/report"):
        return "delivery report"
    if headers.get("return-path", "").strip() == "<>":
        return "null sender"
    if email.sender.split("@", 1)[0] in DAEMONS:
        return "mailer daemon"
    return None


def header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers we look at (lower-case names), first value of each, bounded."""
    wanted = {"message-id", "in-reply-to", "references", *AUTOMATION_HEADERS}
    found: dict[str, str] = {}
    for name, value in pairs:
        key = name.strip().lower()
        if key in wanted and key not in found:
            found[key] = str(value)[:2000]
    return found


def parse_mime(raw: bytes) -> IncomingEmail:
    """A raw RFC 5322 message (``policy.default``): the plain part preferred, HTML converted
    when there is none, attachments listed, a delivery report's original Message-ID found."""
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw[:MAX_RAW])
    if not isinstance(message, EmailMessage):  # pragma: no cover (the class asked for)
        raise TypeError("the parser returned no EmailMessage")
    sender, name = address(_header(message, "from"))
    recipients = addresses(
        [_header(message, "to"), _header(message, "cc"), _header(message, "delivered-to")]
    )
    text = _body(message)
    return IncomingEmail(
        message_id=next(iter(message_ids(_header(message, "message-id"))), ""),
        sender=sender,
        sender_name=name,
        recipients=recipients,
        subject=clean_subject(_header(message, "subject")),
        text=text,
        in_reply_to=message_ids(_header(message, "in-reply-to")),
        references=message_ids(_header(message, "references")),
        headers=header_map((k, _safe(v)) for k, v in message.items()),
        attachments=_attachments(message),
        date=_date(_header(message, "date")),
        bounced_id=_bounced(message),
    )


def _safe(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a header policy.default cannot render
        return ""


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    return _safe(value) if value is not None else ""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _body(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if isinstance(plain, EmailMessage):
        return _content(plain)[:200_000]
    html = message.get_body(preferencelist=("html",))
    if isinstance(html, EmailMessage):
        return html_to_text(_content(html))
    return ""


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in message.iter_attachments():
        if len(found) >= MAX_ATTACHMENTS:
            break
        if not isinstance(part, EmailMessage):
            continue
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                filename=(part.get_filename() or "")[:255],
                content_type=part.get_content_type()[:127],
                size=len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    return tuple(found)


def _bounced(message: EmailMessage) -> str | None:
    """The Message-ID of the original message in a delivery status notification (RFC 3464)."""
    if message.get_content_type() != "multipart/report":
        return None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                found = message_ids(_header(inner, "message-id"))
                if found:
                    return found[0]
        elif kind == "text/rfc822-headers":
            text = _content(part) if isinstance(part, EmailMessage) else ""
            match = re.search(r"^message-id:\s*(<[^>]+>)", text, re.IGNORECASE | re.MULTILINE)
            if match:
                return message_ids(match.group(1))[0]
    return None
