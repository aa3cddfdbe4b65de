"""HubSpot's CRM v3 API over HTTP: contacts, deals and notes, searched, created and updated.

Errors are sorted by what they mean for a retry: 401/403 (a revoked or under-scoped token)
and other 4xx (a payload HubSpot refuses, e.g. a property the portal lacks) will not get
better (``PermanentFailure``); 429 waits for ``Retry-After`` or HubSpot's rate-limit window
(``RetryLater``); 5xx, timeouts and refused connections are transient (``DeliveryFailed``).
A 409 on create names the record that already exists (``Conflict``); a 404 on update says
the record is gone (``Gone``): the caller finds or makes it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import httpx

from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure, RetryLater
from frontdesk.delivery.sender import retry_after

ObjectType = Literal["contacts", "deals", "notes"]
DEFAULT_RATE_WAIT: Final = 10.0
ASSOCIATION_TYPES: Final[dict[tuple[str, str], int]] = {
    ("deals", "contacts"): 3,
    ("notes", "contacts"): 202,
    ("notes", "deals"): 214,
}
"""HubSpot-defined association type ids (from → to)."""
_EXISTING: Final = re.compile(r"Existing ID:\s*(\d+)")


class Conflict(Exception):
    """A create refused because the record exists (``existing``: its id, when HubSpot says)."""

    def __init__(self, existing: str | None) -> None:
        super().__init__(existing)
        self.existing = existing


class Gone(Exception):
    """The record to update is not there any more (deleted or merged in HubSpot)."""


def association(to_type: ObjectType, from_type: ObjectType, to_id: str) -> dict[str, Any]:
    """One entry of a create's ``associations``: this record → ``to_id`` (default label)."""
    return {
        "to": {"id": to_id},
        "types": [
            {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": ASSOCIATION_TYPES[(from_type, to_type)],
            }
        ],
    }


class HubSpotClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport, follow_redirects=False
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def search(
        self,
        token: str,
        object_type: ObjectType,
        groups: Sequence[Sequence[tuple[str, str]]],
        *,
        properties: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Records matching any of ``groups`` (each: ``(property, value)`` pairs, all EQ)."""
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": p, "operator": "EQ", "value": v} for p, v in group]}
                for group in groups
                if group
            ],
            "properties": list(properties),
            "limit": 10,
        }
        data = await self._call("POST", f"/crm/v3/objects/{object_type}/search", token, body)
        results = data.get("results")
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []

    async def create(
        self,
        token: str,
        object_type: ObjectType,
        properties: Mapping[str, str],
        associations: Sequence[dict[str, Any]] = (),
    ) -> str:
        """Create a record; its id. ``Conflict`` when HubSpot says it exists already."""
        body: dict[str, Any] = {"properties": dict(properties)}
        if associations:
            body["associations"] = list(associations)
        data = await self._call("POST", f"/crm/v3/objects/{object_type}", token, body)
        return _id(data)

    async def update(
        self, token: str, object_type: ObjectType, record_id: str, properties: Mapping[str, str]
    ) -> None:
        """Change a record's properties; ``Gone`` when it is not there."""
        path = f"/crm/v3/objects/{object_type}/{record_id}"
        await self._call("PATCH", path, token, {"properties": dict(properties)})

    async def _call(
        self, method: str, path: str, token: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TimeoutException:
            raise DeliveryFailed("HubSpot did not answer in time", code="timeout") from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise DeliveryFailed(f"HubSpot is unreachable ({reason})", code="connect") from None
        if response.is_success:
            try:
                data = response.json()
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        raise _error(response)


def _id(data: Mapping[str, Any]) -> str:
    record_id = data.get("id")
    if not isinstance(record_id, str | int) or not str(record_id):
        raise DeliveryFailed("HubSpot answered without the record's id")
    return str(record_id)


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = {}
    message = data.get("message") if isinstance(data, dict) else None
    return str(message)[:300] if message else response.reason_phrase


def _rate_wait(response: httpx.Response) -> float:
    """``Retry-After`` when given, else what is left of HubSpot's rate-limit window."""
    wait = retry_after(response)
    if wait is not None:
        return wait
    interval = response.headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
    return int(interval) / 1000 if interval.isdigit() else DEFAULT_RATE_WAIT


def _error(response: httpx.Response) -> Exception:
    """The failure a HubSpot error answer stands for (never with the token in it)."""
    status = response.status_code
    message = _message(response)
    detail = f"HubSpot {status}: {message}"
    code = f"http_{status}"
    if status == 409:
        found = _EXISTING.search(message)
        return Conflict(found.group(1) if found else None)
    if status == 404:
        return Gone(detail)
    if status == 429:
        return RetryLater(detail, retry_after=_rate_wait(response), code=code)
    if status in (401, 403):
        return PermanentFailure(detail, code=code)
    if status >= 500 or status == 408:
        return DeliveryFailed(detail, retry_after=retry_after(response), code=code)
    return PermanentFailure(detail, code=code)
