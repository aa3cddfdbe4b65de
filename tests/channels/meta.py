"""WhatsApp Cloud API webhook notifications as Meta sends them (its documented payloads),
signed with the app secret."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any

import orjson

from tests.factories import WHATSAPP_CREDENTIALS

_ids = itertools.count()


def wamid() -> str:
    return f"wamid.HBgMNTczMDAxMjM0NTY3FQIAEhgg{next(_ids):08d}"


def notification(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    wa_id: str = "573001234567",
    name: str = "Camila Rojas",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "573001112233", "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text(
    body: str, *, sender: str = "573001234567", message_id: str | None = None
) -> dict[str, Any]:
    return {
        "from": sender,
        "id": message_id or wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def status(
    message_id: str, state: str, *, recipient: str = "573001234567", error_code: int | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if error_code is not None:
        item["errors"] = [{"code": error_code, "title": "Message undeliverable"}]
    return item


def signed(payload: dict[str, Any], secret: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    key = (secret or WHATSAPP_CREDENTIALS["app_secret"]).encode()
    signature = hmac.new(key, body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={signature}", "Content-Type": "application/json"}


# Messenger and Instagram Direct (the Messenger Platform's webhooks, as Meta documents them).

PAGE_CREDENTIALS = {
    "app_secret": "page-app-secret-for-tests",
    "verify_token": "page-verify-token-for-tests",
    "access_token": "EAAG-test-access-token",
}


def mid() -> str:
    return f"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_{next(_ids)}"


def messaging(obj: str, account_id: str, *events: dict[str, Any]) -> dict[str, Any]:
    """A notification: ``obj`` is ``page`` (Messenger) or ``instagram``."""
    now = int(time.time() * 1000)
    return {"object": obj, "entry": [{"id": account_id, "time": now, "messaging": list(events)}]}


def _event(sender: str, account_id: str, **content: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": account_id},
        "timestamp": int(time.time() * 1000),
        **content,
    }


def message(
    account_id: str,
    text: str | None = None,
    *,
    sender: str = "6804356226316834",
    message_id: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A customer's message: ``more`` adds ``quick_reply``, ``attachments``, ``reply_to``…"""
    body: dict[str, Any] = {"mid": message_id or mid(), **more}
    if text is not None:
        body["text"] = text
    return _event(sender, account_id, message=body)


def quick_reply(account_id: str, title: str, payload: str, **kw: Any) -> dict[str, Any]:
    return message(account_id, title, quick_reply={"payload": payload}, **kw)


def attachment(account_id: str, kind: str, url: str, **kw: Any) -> dict[str, Any]:
    return message(account_id, attachments=[{"type": kind, "payload": {"url": url}}], **kw)


def postback(
    account_id: str, title: str, payload: str, *, sender: str = "6804356226316834"
) -> dict[str, Any]:
    return _event(sender, account_id, postback={"mid": mid(), "title": title, "payload": payload})


def echo(account_id: str, recipient: str, text: str) -> dict[str, Any]:
    """Our page's own message, reported back (``message_echoes``)."""
    body = {"is_echo": True, "app_id": 1517776481860111, "mid": mid(), "text": text}
    return _event(account_id, recipient, message=body)


def deleted(
    account_id: str, message_id: str, *, sender: str = "6804356226316834"
) -> dict[str, Any]:
    return _event(sender, account_id, message={"mid": message_id, "is_deleted": True})


def delivery(
    account_id: str, mids: list[str] | None, watermark: int, *, sender: str = "6804356226316834"
) -> dict[str, Any]:
    receipt: dict[str, Any] = {"watermark": watermark}
    if mids is not None:
        receipt["mids"] = mids
    return _event(sender, account_id, delivery=receipt)


def read(
    account_id: str,
    *,
    watermark: int | None = None,
    message_id: str | None = None,
    sender: str = "6804356226316834",
) -> dict[str, Any]:
    """Messenger reads by watermark; Instagram names the message (``messaging_seen``)."""
    receipt = {"watermark": watermark} if watermark is not None else {"mid": message_id}
    return _event(sender, account_id, read=receipt)


def reaction(
    account_id: str,
    message_id: str,
    emoji: str = "\u2764\ufe0f",
    *,
    action: str = "react",
    sender: str = "6804356226316834",
) -> dict[str, Any]:
    body = {"reaction": "love", "emoji": emoji, "action": action, "mid": message_id}
    return _event(sender, account_id, reaction=body)
