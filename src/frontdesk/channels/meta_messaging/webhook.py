"""Messenger Platform webhooks (Messenger and Instagram Direct) → canonical events.

Meta posts ``{"object": "page"|"instagram", "entry": [{"id": <page or Instagram account id>,
"time": …, "messaging": [event, …]}]}``; each event has ``sender``, ``recipient``, ``timestamp``
and one of ``message`` (text, ``quick_reply``, ``attachments``, ``reply_to``, ``is_echo``,
``is_deleted``), ``postback``, ``reaction``, ``delivery`` or ``read``. Some subscriptions
deliver the same event as ``changes: [{"field": "messages", "value": event}]``; both are read.
Anything unexpected in one event is skipped, never fatal to the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from frontdesk.channels.inbound import InboundMessage, StatusEvent

OBJECTS: Final = {"messenger": "page", "instagram": "instagram"}
"""The webhook ``object`` each channel's notifications carry."""
MAX_TEXT: Final = 4000
MAX_EVENTS: Final = 1000
MAX_ATTACHMENTS: Final = 10
MAX_MIDS: Final = 100
MAX_URL: Final = 2048
MEDIA: Final = frozenset({"image", "video", "audio", "file"})
SHARED: Final = frozenset({"share", "ig_reel", "reel", "ig_post", "template"})
_FIELDS: Final = frozenset({"messages", "messaging_postbacks", "message_reactions"})


@dataclass(frozen=True, slots=True)
class Watermark:
    """Everything we sent this customer before ``until`` was delivered (or read): Messenger
    reports receipts this way when it names no message."""

    recipient_id: str
    status: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Deletion:
    """The customer unsent their message ``provider_id``."""

    sender_id: str
    provider_id: str


@dataclass(slots=True)
class Events:
    """One entry's events: the account (page or Instagram account) they are about names the
    tenant."""

    channel: str
    account_id: str
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusEvent] = field(default_factory=list)
    watermarks: list[Watermark] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    echoes: int = 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _id(value: Any) -> str:
    """Meta's ids are strings of digits, but some payloads carry them as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _text(value, 64)


def _url(value: Any) -> str:
    url = _text(value, MAX_URL + 1)
    return url if url.startswith("https://") and len(url) <= MAX_URL else ""


def _moment(value: Any) -> datetime | None:
    """Meta's timestamps: milliseconds since the epoch (seconds in some payloads)."""
    try:
        number = int(value)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def entries(payload: Mapping[str, Any], channel: str) -> Iterator[tuple[str, list[Any]]]:
    """Each entry's account id and its messaging events, for ``channel``'s notifications."""
    if payload.get("object") != OBJECTS[channel]:
        return
    for entry in _list(payload.get("entry"))[:MAX_EVENTS]:
        entry = _dict(entry)
        events = list(_list(entry.get("messaging")))
        for change in _list(entry.get("changes")):
            change = _dict(change)
            if change.get("field") in _FIELDS:
                events.append(change.get("value"))
        yield _id(entry.get("id")), events[:MAX_EVENTS]


def parse(channel: str, account_id: str, items: list[Any]) -> Events:
    """One entry's events, sorted into messages, receipts and deletions."""
    events = Events(channel=channel, account_id=account_id)
    for item in items:
        _event(events, _dict(item))
    return events


def _event(events: Events, item: Mapping[str, Any]) -> None:
    sender = _id(_dict(item.get("sender")).get("id"))
    moment = _moment(item.get("timestamp"))
    message = _dict(item.get("message"))
    if message.get("is_echo"):
        events.echoes += 1  # our own (or the page's inbox's) message, reported back
        return
    if not sender:
        return
    if message:
        mid = _text(message.get("mid"))
        if message.get("is_deleted"):
            if mid:
                events.deletions.append(Deletion(sender_id=sender, provider_id=mid))
            return
        if mid:
            text, kind, data = _content(message)
            events.messages.append(_inbound(events, sender, mid, text, kind, data, moment))
        return
    if "postback" in item:
        postback = _dict(item.get("postback"))
        title, value = _text(postback.get("title"), 200), _text(postback.get("payload"), 1000)
        mid = _text(postback.get("mid")) or f"postback:{sender}:{_id(item.get('timestamp'))}"
        data = {"payload": value, "title": title}
        events.messages.append(
            _inbound(events, sender, mid, title or value or "[postback]", "postback", data, moment)
        )
        return
    if "reaction" in item:
        _reaction(events, sender, _dict(item.get("reaction")), item, moment)
        return
    for status in ("delivery", "read"):
        if status in item:
            state = "delivered" if status == "delivery" else "read"
            _receipt(events, sender, state, _dict(item.get(status)), moment)
            return


def _inbound(
    events: Events,
    sender: str,
    mid: str,
    text: str,
    kind: str,
    data: dict[str, Any],
    moment: datetime | None,
) -> InboundMessage:
    return InboundMessage(
        channel=events.channel,
        account_id=events.account_id,
        sender_id=sender,
        provider_id=mid,
        text=text[:MAX_TEXT],
        kind=kind,
        data=data,
        timestamp=moment,
    )


def _content(message: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """What the engine reads, what kind of message it was, and the details worth keeping."""
    text = _text(message.get("text"), MAX_TEXT)
    data: dict[str, Any] = {}
    reply_to = _dict(message.get("reply_to"))
    if reply_to.get("mid"):
        data["reply_to"] = _text(reply_to.get("mid"))
    story = _dict(reply_to.get("story"))
    if story:
        data |= {"story_id": _id(story.get("id")), "story_url": _url(story.get("url"))}
        return text or "[story reply]", "story_reply", data
    if "quick_reply" in message:
        data |= {"payload": _text(_dict(message.get("quick_reply")).get("payload"), 1000)}
        data["title"] = text[:100]
        return text or data["payload"], "quick_reply", data
    found = (_attachment(_dict(a)) for a in _list(message.get("attachments")))
    attachments = [a for a in found if a is not None][:MAX_ATTACHMENTS]
    if attachments:
        first = attachments[0]
        kind = first["type"]
        if kind == "story_mention":
            return text or "[story mention]", "story_mention", data | {"story_url": first["url"]}
        label = first.get("title") or f"[{kind}]"
        data |= {"media_type": kind, "url": first["url"], "attachments": attachments}
        return text or label, "media", data
    if message.get("is_unsupported") or not text:
        return "[unsupported]", "unsupported", data | {"type": "unsupported"}
    return text, "text", data


def _attachment(item: Mapping[str, Any]) -> dict[str, str] | None:
    kind = _text(item.get("type"), 32)
    if not kind:
        return None
    payload = _dict(item.get("payload"))
    found = {"type": kind, "url": _url(payload.get("url") or item.get("url"))}
    title = _text(payload.get("title") or item.get("title"), 200)
    if title:
        found["title"] = title
    if kind not in MEDIA | SHARED | {"story_mention", "fallback", "location"}:
        found["type"] = "unsupported"
    return found


def _reaction(
    events: Events,
    sender: str,
    reaction: Mapping[str, Any],
    item: Mapping[str, Any],
    moment: datetime | None,
) -> None:
    target = _text(reaction.get("mid"))
    if not target:
        return
    removed = reaction.get("action") == "unreact"
    emoji = "" if removed else _text(reaction.get("emoji") or reaction.get("reaction"), 16)
    key = f"reaction:{target}:{sender}:{_id(item.get('timestamp'))}"
    data = {"message_id": target, "emoji": emoji}
    events.messages.append(
        _inbound(events, sender, key, emoji or "[reaction removed]", "reaction", data, moment)
    )


def _receipt(
    events: Events,
    sender: str,
    status: str,
    receipt: Mapping[str, Any],
    moment: datetime | None,
) -> None:
    mids = [_text(mid) for mid in _list(receipt.get("mids"))[:MAX_MIDS]]
    if receipt.get("mid"):
        mids.append(_text(receipt.get("mid")))
    for mid in filter(None, mids):
        events.statuses.append(
            StatusEvent(
                channel=events.channel,
                account_id=events.account_id,
                provider_id=mid,
                status=status,
                recipient_id=sender,
                timestamp=moment,
            )
        )
    until = _moment(receipt.get("watermark"))
    if not mids and until is not None:
        events.watermarks.append(Watermark(recipient_id=sender, status=status, until=until))
