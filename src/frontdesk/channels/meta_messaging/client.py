"""The Send API (``POST /{page-id|instagram-id|me}/messages``) over the shared Graph client.

Messenger Platform errors, by what they mean for a retry: application, page and business rate
limits wait; a temporary send failure (1200) and Meta's "unexpected error" (1, 2) are retried;
"sent outside of allowed window" (10/2018278 on Messenger, 10/2534022 on Instagram) closes the
window; an invalid token (190), a person not reachable (551), no matching user (100) or a
missing permission (10, 200, 230) will not get better.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from frontdesk.channels.graph import ErrorCodes, GraphHttp
from frontdesk.delivery.errors import DeliveryFailed

CODES: Final = ErrorCodes(
    throttled={"4": 60.0, "17": 60.0, "32": 60.0, "613": 60.0, "80002": 60.0, "80006": 60.0},
    transient=frozenset({"1", "2", "1200"}),
    outside_window=frozenset({"10/2018278", "10/2534022"}),
    permanent=frozenset({"10", "100", "200", "230", "551"}),
)
SenderAction = Literal["mark_seen", "typing_on", "typing_off"]


class SendApi:
    """Messages and sender actions to one customer (a page- or Instagram-scoped id)."""

    def __init__(self, http: GraphHttp) -> None:
        self.http = http

    async def send(
        self,
        sender: str,
        token: str,
        recipient: str,
        message: Mapping[str, Any],
        *,
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
    ) -> str:
        """Send one message; returns its message id (``mid``)."""
        body: dict[str, Any] = {
            "recipient": {"id": recipient},
            "messaging_type": messaging_type,
            "message": dict(message),
        }
        if tag:
            body["tag"] = tag
        data = await self.http.post(f"/{sender}/messages", token, body, codes=CODES)
        mid = data.get("message_id")
        if not isinstance(mid, str) or not mid:
            raise DeliveryFailed("the Send API answered without a message id")
        return mid

    async def sender_action(
        self, sender: str, token: str, recipient: str, action: SenderAction
    ) -> None:
        body = {"recipient": {"id": recipient}, "sender_action": action}
        await self.http.post(f"/{sender}/messages", token, body, codes=CODES)
