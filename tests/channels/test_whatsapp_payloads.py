"""Meta's documented webhook payloads → canonical events, and Graph API errors → what a retry
should do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdesk.channels.whatsapp import webhook
from frontdesk.channels.whatsapp.client import GraphClient, InvalidToken, OutsideWindow
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater
from tests.channels import meta


def one(item: dict[str, Any]) -> Any:
    payload = meta.notification("123456789", messages=[item])
    (value,) = webhook.changes(payload)
    messages, statuses = webhook.parse(value)
    assert statuses == []
    (message,) = messages
    assert message.account_id == "123456789"
    assert message.sender_name == "Camila Rojas"
    return message


def base(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": "573001234567",
        "id": "wamid.X1",
        "timestamp": "1764100000",
        "type": kind,
        kind: body,
    }


def test_text() -> None:
    message = one(meta.text("Hola!", message_id="wamid.T"))
    assert (message.kind, message.text, message.provider_id) == ("text", "Hola!", "wamid.T")


def test_reply_button_and_list_reply() -> None:
    button = one(
        base(
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "service:web", "title": "Sitio web"}},
        )
    )
    assert (button.kind, button.text, button.data["id"]) == ("button", "Sitio web", "service:web")
    chosen = one(
        base(
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {
                    "id": "service:seo",
                    "title": "SEO",
                    "description": "Posicionamiento",
                },
            },
        )
    )
    assert (chosen.kind, chosen.text, chosen.data["id"]) == ("list", "SEO", "service:seo")


def test_template_quick_reply_button() -> None:
    message = one(base("button", {"payload": "RETOMAR", "text": "Sí, continuar"}))
    assert (message.kind, message.text, message.data["payload"]) == (
        "button",
        "Sí, continuar",
        "RETOMAR",
    )


def test_media_keeps_its_metadata_for_download_on_demand() -> None:
    image = one(
        base(
            "image",
            {
                "id": "1234567890",
                "mime_type": "image/jpeg",
                "sha256": "abc=",
                "caption": "mi logo actual",
            },
        )
    )
    assert image.kind == "media"
    assert image.text == "mi logo actual"
    assert image.data["media_id"] == "1234567890"
    assert image.data["mime_type"] == "image/jpeg"
    voice = one(base("audio", {"id": "999", "mime_type": "audio/ogg; codecs=opus", "voice": True}))
    assert (voice.text, voice.data["media_type"]) == ("[audio]", "audio")


def test_location_and_reaction() -> None:
    place = one(
        base(
            "location",
            {"latitude": 4.6097, "longitude": -74.0817, "name": "Oficina", "address": "Bogotá"},
        )
    )
    assert place.text == "Oficina"
    assert place.data["latitude"] == 4.6097
    reaction = one(base("reaction", {"message_id": "wamid.OUT", "emoji": "👍"}))
    assert (reaction.kind, reaction.data["message_id"], reaction.text) == (
        "reaction",
        "wamid.OUT",
        "👍",
    )


def test_unsupported_and_malformed_items() -> None:
    odd = one(base("order", {"catalog_id": "1"}))
    assert (odd.kind, odd.text) == ("unsupported", "[order]")
    payload = meta.notification("1", messages=[{"id": "x"}, "junk", {"from": 5}])  # type: ignore[list-item]
    (value,) = webhook.changes(payload)
    assert webhook.parse(value) == ([], [])
    assert list(webhook.changes({"object": "page"})) == []
    assert list(webhook.changes({"object": "whatsapp_business_account", "entry": "nope"})) == []


def test_status_with_error() -> None:
    payload = meta.notification("1", statuses=[meta.status("wamid.Y", "failed", error_code=131026)])
    (value,) = webhook.changes(payload)
    _, (status,) = webhook.parse(value)
    assert (status.provider_id, status.status, status.error_code) == ("wamid.Y", "failed", "131026")


def graph_answering(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> GraphClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer token"
        return httpx.Response(status, json=body, headers=headers)

    return GraphClient("https://graph.test/v21.0", transport=httpx.MockTransport(handler))


def error(code: int) -> dict[str, Any]:
    return {"error": {"message": "boom", "type": "OAuthException", "code": code, "fbtrace_id": "A"}}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retry_after"),
    [
        (400, error(130429), None, RetryLater, 30.0),
        (400, error(131056), None, RetryLater, 60.0),
        (429, {}, {"Retry-After": "7"}, RetryLater, 7.0),
        (400, error(131047), None, OutsideWindow, None),
        (401, error(190), None, InvalidToken, None),
        (400, error(131026), None, PermanentFailure, None),
        (500, error(131000), None, DeliveryFailed, None),
        (503, {}, None, DeliveryFailed, None),
    ],
)
async def test_graph_errors_by_kind(
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    expected: type[Exception],
    retry_after: float | None,
) -> None:
    client = graph_answering(status, body, headers)
    with pytest.raises(expected) as raised:
        await client.send("1", "token", "573001234567", {"type": "text", "text": {"body": "hola"}})
    await client.close()
    assert type(raised.value) is expected
    assert isinstance(raised.value, DeliveryFailed)
    assert raised.value.retry_after == retry_after
    assert "token" not in str(raised.value)


async def test_a_sent_message_returns_its_wamid() -> None:
    client = graph_answering(
        200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OK"}]}
    )
    assert (
        await client.send("1", "token", "57300", {"type": "text", "text": {"body": "hola"}})
        == "wamid.OK"
    )
    await client.close()
