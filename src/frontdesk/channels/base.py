"""The adapter protocol every channel implements, and the registry that finds them.

An adapter renders a ``Reply`` into its provider's payloads, within the limits it declares,
and sends an ``Outbound`` message. Parsing a provider's webhooks is the adapter package's own
(``channels/whatsapp/webhook.py``), into the canonical events of ``channels/inbound.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.render import Capabilities
from frontdesk.delivery.errors import DeliveryFailed
from frontdesk.engine.reply import Reply
from frontdesk.errors import FrontDeskError
from frontdesk.tenancy.context import TenantContext


class ChannelNotConfigured(FrontDeskError):
    status = 422
    title = "Channel not configured"
    type_slug = "channel-not-configured"


@dataclass(frozen=True, slots=True)
class Outbound:
    """One stored outbound message, with what its channel needs to send it."""

    message_id: Any
    reply: Reply
    recipient: str
    last_customer_at: datetime | None = None
    in_reply_to: str | None = None
    """The provider's id of the customer message this answers (marked as read)."""
    start: int = 0
    """Parts already sent by an earlier attempt (a long reply goes out in several)."""
    thread: Mapping[str, Any] = field(default_factory=dict)
    """What the adapter's ``thread`` hook found for this message (email: subject, Message-IDs
    answered, reply address)."""
    sender: str = "assistant"
    """Who wrote it: ``assistant``, or ``agent`` for a person's answer (some channels allow a
    person more time to answer than the assistant)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str | None
    status: str = "sent"
    parts: int = 1
    """Parts sent by this attempt."""
    failure: DeliveryFailed | None = None
    """Set when a part failed after earlier parts went out: the rest is retried on its own."""
    note: str | None = None


class ChannelAdapter(Protocol):
    kind: str
    pushes: bool
    """False where the client reads the store itself (web chat, API): the stored reply is
    delivered, and no delivery job is needed."""
    capabilities: Capabilities

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """The provider payloads of ``reply``, each within ``capabilities``."""

    async def send(self, tenant: TenantContext, outbound: Outbound) -> SendResult:
        """Deliver ``outbound`` from part ``outbound.start`` on."""


@runtime_checkable
class ThreadedAdapter(Protocol):
    """An adapter that reads (or writes) what it needs to send a message in the send's own
    transaction, before sending: an email's thread headers, a transfer code."""

    async def thread(
        self, session: AsyncSession, tenant: TenantContext, message: Any, conversation: Any
    ) -> Mapping[str, Any]:
        """The ``Outbound.thread`` of ``message``."""


class ChannelRegistry:
    def __init__(self, *adapters: ChannelAdapter) -> None:
        self._adapters = {adapter.kind: adapter for adapter in adapters}

    def needs_delivery(self, kind: str) -> bool:
        return self.get(kind).pushes

    def get(self, kind: str) -> ChannelAdapter:
        adapter = self._adapters.get(kind)
        if adapter is None:
            raise ChannelNotConfigured(f"no adapter for channel {kind}")
        return adapter

    def render(self, kind: str, reply: Reply) -> list[dict[str, Any]]:
        return self.get(kind).render(reply)
