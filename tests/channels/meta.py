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
