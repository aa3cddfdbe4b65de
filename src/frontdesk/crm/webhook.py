"""HubSpot's webhooks: the v3 request signature, and the deal-stage changes they carry.

``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(client secret, method + URI + body +
timestamp)), the timestamp (``X-HubSpot-Request-Timestamp``, milliseconds) within five
minutes of ours. The URI is the one HubSpot called, so behind a proxy it is our public URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from frontdesk.security.signatures import InvalidSignature

SIGNATURE_HEADER: Final = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER: Final = "X-HubSpot-Request-Timestamp"
TOLERANCE: Final = timedelta(minutes=5)
MAX_EVENTS: Final = 100
DEAL_OBJECT_TYPE: Final = "0-3"


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature of a request (what HubSpot sends, and what a test signs with)."""
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot_signature(
    secret: str,
    *,
    method: str,
    uris: Sequence[str],
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime | None = None,
) -> None:
    """Check the v3 signature against each URI the request may have been sent to."""
    if not signature or not timestamp:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.isdigit() or len(timestamp) > 15 or len(signature) > 100:
        raise InvalidSignature("the HubSpot signature headers are malformed")
    now = now or datetime.now(UTC)
    if abs(now.timestamp() * 1000 - int(timestamp)) > TOLERANCE.total_seconds() * 1000:
        raise InvalidSignature("the request timestamp is more than five minutes away")
    given = signature.strip().encode()
    for uri in uris:
        expected = hubspot_signature(secret, method, uri, body, timestamp).encode()
        if hmac.compare_digest(expected, given):
            return
    raise InvalidSignature("the signature does not match")


@dataclass(frozen=True, slots=True)
class StageChange:
    """A deal moved to ``stage`` in the portal ``portal_id``; ``key`` names the event."""

    portal_id: str
    deal_id: str
    stage: str
    key: str


def events(payload: Any) -> list[Mapping[str, Any]]:
    """The notification's events (HubSpot posts a JSON array of at most 100)."""
    if not isinstance(payload, list) or len(payload) > MAX_EVENTS:
        return []
    return [event for event in payload if isinstance(event, Mapping)]


def portal_of(event: Mapping[str, Any]) -> str:
    return str(event.get("portalId", ""))[:64]


def stage_change(event: Mapping[str, Any]) -> StageChange | None:
    """The deal-stage change an event reports, if it is one."""
    kind = event.get("subscriptionType")
    is_deal = kind == "deal.propertyChange" or (
        kind == "object.propertyChange" and str(event.get("objectTypeId")) == DEAL_OBJECT_TYPE
    )
    if not is_deal or event.get("propertyName") != "dealstage":
        return None
    deal_id, stage = str(event.get("objectId", ""))[:64], str(event.get("propertyValue", ""))
    if not deal_id or not stage or len(stage) > 64:
        return None
    portal = portal_of(event)
    event_id = str(event.get("eventId", ""))[:40]
    occurred = str(event.get("occurredAt", ""))[:20]
    return StageChange(portal, deal_id, stage, f"hubspot:{portal}:{deal_id}:{event_id}:{occurred}")
