"""The WhatsApp Cloud API over HTTP: send messages, mark as read, fetch media.

The HTTP side and the reading of Meta's errors are the Graph API's (``channels/graph.py``);
WhatsApp's own codes sort them: throughput and pair-rate limits wait (``RetryLater``), the
24-hour rule needs a template (``OutsideWindow``), an invalid token or an undeliverable message
will not get better (``PermanentFailure``), the rest is transient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from frontdesk.channels.graph import ErrorCodes, GraphHttp, InvalidToken, OutsideWindow, json_of
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure

__all__ = ["GraphClient", "InvalidToken", "OutsideWindow"]

THROTTLED: Final = {
    "4": 60.0,  # application request limit
    "80007": 60.0,  # WhatsApp Business Account rate limit
    "130429": 30.0,  # Cloud API throughput reached
    "131056": 60.0,  # too many messages to one recipient (pair rate limit)
}
INVALID_TOKEN: Final = frozenset({"190"})
PERMANENT: Final = frozenset(
    {"10", "100", "131008", "131009", "131021", "131026", "131051", "132000", "132001", "200"}
)
REENGAGEMENT: Final = "131047"
MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024
CODES: Final = ErrorCodes(
    throttled=THROTTLED,
    permanent=PERMANENT,
    outside_window=frozenset({REENGAGEMENT}),
    invalid_token=INVALID_TOKEN,
)


class GraphClient(GraphHttp):
    codes = CODES

    async def send(
        self, phone_number_id: str, token: str, to: str, payload: Mapping[str, Any]
    ) -> str:
        """Send one message; returns its WhatsApp message id (``wamid``)."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        data = await self.post(f"/{phone_number_id}/messages", token, body | dict(payload))
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise DeliveryFailed("the Graph API answered without a message id")
        return str(messages[0]["id"])

    async def mark_read(self, phone_number_id: str, token: str, message_id: str) -> None:
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        await self.post(f"/{phone_number_id}/messages", token, body)

    async def media(self, media_id: str, token: str) -> tuple[bytes, str]:
        """A customer's media file: its URL is asked for, then fetched with the same token."""
        meta = json_of(await self.request("GET", f"/{media_id}", token))
        url, mime = meta.get("url"), str(meta.get("mime_type") or "application/octet-stream")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise DeliveryFailed("the Graph API gave no media URL")
        response = await self.request("GET", url, token)
        if len(response.content) > MAX_MEDIA_BYTES:
            raise PermanentFailure("the media file is larger than WhatsApp allows")
        return response.content, mime
