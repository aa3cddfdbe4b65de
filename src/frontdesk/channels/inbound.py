"""What every channel's webhook parses into: canonical inbound messages and status events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

STATUS_ORDER: Final[Mapping[str, int]] = {
    "queued": 0,
    "held": 0,
    "sent": 1,
    "delivered": 2,
    "read": 3,
    "failed": 4,
}
"""How far a message has gone: a status event never moves a message back (providers deliver
them out of order), and ``failed`` is final."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message as the provider reported it.

    ``text`` is what the engine reads (a button's title, a media caption, a location's name);
    ``kind`` and ``data`` keep what it was (``text``, ``button``, ``list``, ``media``,
    ``location``, ``reaction``, ``unsupported``) and its structured details."""

    channel: str
    account_id: str
    sender_id: str
    provider_id: str
    text: str
    kind: str = "text"
    data: Mapping[str, Any] = field(default_factory=dict)
    sender_name: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """The provider's news about a message we sent (``provider_id``)."""

    channel: str
    account_id: str
    provider_id: str
    status: str
    recipient_id: str | None = None
    timestamp: datetime | None = None
    error_code: str | None = None
    error_title: str | None = None


def advances(current: str, new: str) -> bool:
    """Whether a status event moves a message on (never back, never out of ``failed``)."""
    if current == "failed":
        return False
    return STATUS_ORDER.get(new, -1) > STATUS_ORDER.get(current, -1)
