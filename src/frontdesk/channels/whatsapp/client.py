"""The WhatsApp Cloud API over HTTP: send messages, mark as read, fetch media.

Meta's errors are sorted by what they mean for a retry: throughput and pair-rate limits wait
(``RetryLater``), the 24-hour rule needs a template (``OutsideWindow``), an invalid token or an
undeliverable message will not get better (``PermanentFailure``), the rest is transient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater

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


class OutsideWindow(PermanentFailure):
    """More than 24 hours since the customer last wrote: only a template may go out."""

    title = "Outside the customer-service window"
    type_slug = "outside-window"


class InvalidToken(PermanentFailure):
    title = "Channel credentials refused"
    type_slug = "channel-credentials-refused"


class GraphClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self, phone_number_id: str, token: str, to: str, payload: Mapping[str, Any]
    ) -> str:
        """Send one message; returns its WhatsApp message id (``wamid``)."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        data = await self._post(f"/{phone_number_id}/messages", token, body | dict(payload))
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages or "id" not in messages[0]:
            raise DeliveryFailed("the Graph API answered without a message id")
        return str(messages[0]["id"])

    async def mark_read(self, phone_number_id: str, token: str, message_id: str) -> None:
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
        await self._post(f"/{phone_number_id}/messages", token, body)

    async def media(self, media_id: str, token: str) -> tuple[bytes, str]:
        """A customer's media file: its URL is asked for, then fetched with the same token."""
        meta = _json(await self._request("GET", f"/{media_id}", token))
        url, mime = meta.get("url"), str(meta.get("mime_type") or "application/octet-stream")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise DeliveryFailed("the Graph API gave no media URL")
        response = await self._request("GET", url, token)
        if len(response.content) > MAX_MEDIA_BYTES:
            raise PermanentFailure("the media file is larger than WhatsApp allows")
        return response.content, mime

    async def _post(self, path: str, token: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(await self._request("POST", path, token, json=body))

    async def _request(
        self, method: str, url: str, token: str, json: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, url, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"the Graph API is unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return response
        raise _error(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryFailed("the Graph API answered with something that is not JSON") from exc
    return data if isinstance(data, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _error(response: httpx.Response) -> DeliveryFailed:
    """The failure a Graph API error response stands for (never with the token in it)."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", "")) or None
    message = str(error.get("message", ""))[:200] or response.reason_phrase
    detail = f"Graph API {response.status_code}: {message}" + (f" (code {code})" if code else "")
    if code in THROTTLED or response.status_code == 429:
        wait = _retry_after(response)
        wait = THROTTLED.get(code or "", 30.0) if wait is None else wait
        return RetryLater(detail, retry_after=wait, code=code)
    if code == REENGAGEMENT:
        return OutsideWindow(detail, code=code)
    if code in INVALID_TOKEN or response.status_code == 401:
        return InvalidToken(detail, code=code)
    if code in PERMANENT or (400 <= response.status_code < 500 and response.status_code != 408):
        return PermanentFailure(detail, code=code)
    return DeliveryFailed(detail, retry_after=_retry_after(response), code=code)
