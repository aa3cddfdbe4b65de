"""Meta's Graph API over HTTP, shared by every Meta channel (WhatsApp, Messenger, Instagram).

One HTTP client (bearer token, no redirects followed) and one reading of Meta's errors, sorted
by what they mean for a retry: rate limits wait (``RetryLater``, the provider's ``Retry-After``
or the code's own pause), a closed messaging window needs something else than free text
(``OutsideWindow``), an invalid token or a refused message will not get better
(``PermanentFailure``), the rest is transient. Each channel brings its own table of codes
(``ErrorCodes``); the reading is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater

DEFAULT_PAUSE: Final = 30.0


class OutsideWindow(PermanentFailure):
    """The provider's messaging window is closed: free text may not go out now."""

    title = "Outside the customer-service window"
    type_slug = "outside-window"


class InvalidToken(PermanentFailure):
    title = "Channel credentials refused"
    type_slug = "channel-credentials-refused"


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """How one channel reads the Graph API's error codes. Entries are a ``code`` or a
    ``code/subcode`` (Meta qualifies several codes by ``error_subcode``)."""

    throttled: Mapping[str, float] = field(default_factory=dict)
    """Rate limits, with the pause to take when no ``Retry-After`` says otherwise."""
    permanent: frozenset[str] = frozenset()
    outside_window: frozenset[str] = frozenset()
    transient: frozenset[str] = frozenset()
    """Codes worth retrying even when answered with a 4xx status."""
    invalid_token: frozenset[str] = frozenset({"190"})


class GraphHttp:
    """The Graph API's HTTP side: requests with a bearer token, errors read with ``codes``."""

    codes: ErrorCodes = ErrorCodes()

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

    async def post(
        self,
        path: str,
        token: str,
        body: Mapping[str, Any],
        *,
        codes: ErrorCodes | None = None,
    ) -> dict[str, Any]:
        return json_of(await self.request("POST", path, token, json=body, codes=codes))

    async def request(
        self,
        method: str,
        url: str,
        token: str,
        json: Mapping[str, Any] | None = None,
        *,
        codes: ErrorCodes | None = None,
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, url, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"the Graph API is unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return response
        raise graph_error(response, codes or self.codes)


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryFailed("the Graph API answered with something that is not JSON") from exc
    return data if isinstance(data, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def graph_error(response: httpx.Response, codes: ErrorCodes) -> DeliveryFailed:
    """The failure a Graph API error response stands for (never with the token in it)."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code", "")) or None
    subcode = str(error.get("error_subcode", "")) or None
    keys = {code or "", f"{code}/{subcode}" if subcode else ""} - {""}
    message = str(error.get("message", ""))[:200] or response.reason_phrase
    detail = f"Graph API {response.status_code}: {message}" + (f" (code {code})" if code else "")
    throttled = next((codes.throttled[key] for key in keys if key in codes.throttled), None)
    if throttled is not None or response.status_code == 429:
        wait = retry_after(response)
        wait = (throttled or DEFAULT_PAUSE) if wait is None else wait
        return RetryLater(detail, retry_after=wait, code=code)
    if keys & codes.outside_window:
        return OutsideWindow(detail, code=code)
    if keys & codes.invalid_token or response.status_code == 401:
        return InvalidToken(detail, code=code)
    if keys & codes.transient:
        return DeliveryFailed(detail, retry_after=retry_after(response), code=code)
    if keys & codes.permanent or (
        400 <= response.status_code < 500 and response.status_code != 408
    ):
        return PermanentFailure(detail, code=code)
    return DeliveryFailed(detail, retry_after=retry_after(response), code=code)
