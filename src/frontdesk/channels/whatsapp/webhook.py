"""WhatsApp Cloud API webhooks: Meta's ``messages`` notifications → canonical events.

The payload shape is Meta's (``object: whatsapp_business_account`` → ``entry[].changes[]``
→ ``value`` with ``metadata.phone_number_id``, ``contacts``, ``messages`` and ``statuses``).
Anything unexpected in one item is skipped, never fatal to the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from frontdesk.channels.inbound import InboundMessage, StatusEvent

CHANNEL: Final = "whatsapp"
MAX_TEXT: Final = 4000
MEDIA: Final = frozenset({"image", "audio", "video", "document", "sticker"})
STATUSES: Final = frozenset({"sent", "delivered", "read", "failed"})


def _dict(value: Any) -> Mapping[str, Any]:
    # A JSON object parses into a dict: the exact type is checked, faster than the ABC.
    return value if type(value) is dict else _EMPTY


_EMPTY: Final[Mapping[str, Any]] = {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def changes(payload: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every ``messages`` change's ``value`` of a notification."""
    if payload.get("object") != "whatsapp_business_account":
        return
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field") == "messages":
                yield _dict(change.get("value"))


def account_of(value: Mapping[str, Any]) -> str:
    """The phone-number id a change is about: it names the tenant."""
    return _str(_dict(value.get("metadata")).get("phone_number_id"), 64)


def parse(value: Mapping[str, Any]) -> tuple[list[InboundMessage], list[StatusEvent]]:
    """One change's messages and status events."""
    account = account_of(value)
    names = {
        _str(_dict(c).get("wa_id"), 32): _str(_dict(_dict(c).get("profile")).get("name"), 200)
        for c in _list(value.get("contacts"))
    }
    messages = [
        message
        for item in _list(value.get("messages"))
        if (message := _message(account, _dict(item), names)) is not None
    ]
    statuses = [
        status
        for item in _list(value.get("statuses"))
        if (status := _status(account, _dict(item))) is not None
    ]
    return messages, statuses


def _message(
    account: str, item: Mapping[str, Any], names: Mapping[str, str]
) -> InboundMessage | None:
    sender, provider_id, kind = _str(item.get("from"), 32), _str(item.get("id")), item.get("type")
    if not sender or not provider_id or not isinstance(kind, str):
        return None
    text, data = _content(kind, item)
    return InboundMessage(
        channel=CHANNEL,
        account_id=account,
        sender_id=sender,
        provider_id=provider_id,
        text=text[:MAX_TEXT],
        kind=data.pop("kind", kind),
        data=data,
        sender_name=names.get(sender) or None,
        timestamp=_timestamp(item.get("timestamp")),
    )


def _content(kind: str, item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """What the engine reads, and the structured details worth keeping."""
    body = _dict(item.get(kind))
    context = _dict(item.get("context"))
    data: dict[str, Any] = {"reply_to": _str(context.get("id"))} if context.get("id") else {}
    if kind == "text":
        return _str(body.get("body"), MAX_TEXT), data
    if kind == "interactive":
        choice_kind = _str(body.get("type"), 32)  # button_reply or list_reply
        choice = _dict(body.get(choice_kind))
        data |= {"kind": "list" if choice_kind == "list_reply" else "button"}
        data |= {"id": _str(choice.get("id"), 256), "title": _str(choice.get("title"), 100)}
        return data["title"] or data["id"], data
    if kind == "button":  # a template's quick-reply button
        data |= {"payload": _str(body.get("payload"), 256), "title": _str(body.get("text"), 100)}
        return data["title"] or data["payload"], data
    if kind in MEDIA:
        media = {
            "media_type": kind,
            "media_id": _str(body.get("id"), 128),
            "mime_type": _str(body.get("mime_type"), 128),
            "sha256": _str(body.get("sha256"), 128),
            "filename": _str(body.get("filename"), 255),
        }
        caption = _str(body.get("caption"), MAX_TEXT)
        return caption or f"[{kind}]", data | {"kind": "media"} | media
    if kind == "location":
        place = {
            key: body.get(key)
            for key in ("latitude", "longitude")
            if isinstance(body.get(key), int | float)
        }
        place |= {key: _str(body.get(key)) for key in ("name", "address") if body.get(key)}
        label = place.get("name") or place.get("address") or "[location]"
        return str(label), data | place
    if kind == "reaction":
        emoji = _str(body.get("emoji"), 16)
        return emoji or "[reaction removed]", data | {
            "message_id": _str(body.get("message_id")),
            "emoji": emoji,
        }
    return f"[{kind[:32]}]", data | {"kind": "unsupported", "type": kind[:32]}


def _status(account: str, item: Mapping[str, Any]) -> StatusEvent | None:
    provider_id, status = _str(item.get("id")), item.get("status")
    if not provider_id or status not in STATUSES:
        return None
    error = _dict(next(iter(_list(item.get("errors"))), None))
    code = error.get("code")
    return StatusEvent(
        channel=CHANNEL,
        account_id=account,
        provider_id=provider_id,
        status=str(status),
        recipient_id=_str(item.get("recipient_id"), 32) or None,
        timestamp=_timestamp(item.get("timestamp")),
        error_code=str(code) if isinstance(code, int | str) and code != "" else None,
        error_title=_str(error.get("title") or error.get("message"), 200) or None,
    )
