"""One JSON POST to a provider, with a per-attempt timeout and retries with backoff.

429, 408, 409, 5xx (and Anthropic's 529), timeouts and connection errors are retried with
exponential backoff and full jitter, or after the server's ``Retry-After`` (seconds or an HTTP
date; ``retry-after-ms`` too) when it says so — unless that is longer than we are willing to
wait. Other 4xx are final. Neither request headers (the API key) nor response bodies (which
may echo part of a key) are ever logged or put in an error.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx
import orjson

from frontdesk.engine.llm.base import (
    ChatRequest,
    ChatResult,
    LLMBadResponse,
    LLMError,
    LLMRefused,
    LLMTimeout,
    LLMUnavailable,
    logger,
)

RETRYABLE: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_RESPONSE_BYTES: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one attempt may take and how the next ones are spaced."""

    timeout: float = 10.0
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 20.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to ``base * 2**attempt``, capped."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))  # noqa: S311


def retry_after(response: httpx.Response) -> float | None:
    """The wait a response asks for, in seconds, if it asks for one."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _decode(response: httpx.Response) -> dict[str, Any]:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise LLMBadResponse("the response is too large", status=response.status_code)
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise LLMBadResponse("the response is not JSON", status=response.status_code) from exc
    if not isinstance(data, dict):
        raise LLMBadResponse("the response is not a JSON object", status=response.status_code)
    return data


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    policy: RetryPolicy,
    provider: str,
) -> dict[str, Any]:
    """POST ``body`` to ``url`` and return the JSON object answered, retrying as described."""
    content = orjson.dumps(body)
    headers = {**headers, "content-type": "application/json", "accept": "application/json"}
    attempt = 0
    while True:
        wait: float | None = None
        error: LLMError
        try:
            response = await client.post(
                url, content=content, headers=headers, timeout=policy.timeout
            )
        except httpx.TimeoutException:
            error = LLMTimeout(f"no answer within {policy.timeout:g}s")
        except httpx.TransportError as exc:
            error = LLMUnavailable(f"cannot reach the provider ({type(exc).__name__})")
        else:
            status = response.status_code
            if 200 <= status < 300:
                return _decode(response)
            if status not in RETRYABLE:
                raise LLMRefused(f"the provider answered HTTP {status}", status=status)
            error = LLMUnavailable(f"the provider answered HTTP {status}", status=status)
            wait = retry_after(response)
        if attempt >= policy.max_retries:
            raise error
        if wait is None:
            wait = policy.backoff(attempt)
        elif wait > policy.retry_after_cap:
            raise error
        attempt += 1
        logger().warning(
            "llm.retry",
            provider=provider,
            attempt=attempt,
            reason=error.reason,
            status=error.status,
            wait=round(wait, 3),
        )
        await asyncio.sleep(wait)


def usage_counts(usage: Any) -> dict[str, int]:
    """The non-negative integer counters of a response's ``usage`` object (others dropped)."""
    if not isinstance(usage, dict):
        return {}
    return {
        key: value
        for key, value in usage.items()
        if isinstance(key, str) and isinstance(value, int) and value >= 0
    }


class HttpChatProvider(ABC):
    """What the HTTP providers share: one client (or one per call), the URL and the retries.

    A subclass says how a request becomes a body (``payload``), which headers carry the key
    (``headers``) and how a response becomes a result (``parse``).
    """

    name = "http"

    def __init__(
        self, url: str, *, policy: RetryPolicy | None, client: httpx.AsyncClient | None
    ) -> None:
        self.url = url
        self.policy = policy or RetryPolicy()
        self._client = client

    @abstractmethod
    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """The headers of every call (the API key among them)."""

    @abstractmethod
    def parse(self, data: dict[str, Any], request: ChatRequest) -> ChatResult:
        """The result in a response ``data``."""

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Ask the server; raises ``LLMError`` when it gives no usable answer."""
        body = self.payload(request)
        if self._client is not None:
            data = await self._post(self._client, body)
        else:
            async with httpx.AsyncClient() as client:
                data = await self._post(client, body)
        return self.parse(data, request)

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        return await post_json(
            client,
            self.url,
            headers=self.headers(),
            body=body,
            policy=self.policy,
            provider=self.name,
        )
