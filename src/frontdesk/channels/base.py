"""The adapter protocol every channel implements, and the registry that finds them."""

from __future__ import annotations

from typing import Protocol

from frontdesk.conversations.schemas import MessageOut
from frontdesk.errors import FrontDeskError
from frontdesk.tenancy.context import TenantContext


class ChannelNotConfigured(FrontDeskError):
    status = 422
    title = "Channel not configured"
    type_slug = "channel-not-configured"


class ChannelAdapter(Protocol):
    kind: str
    pushes: bool
    """False where the client reads the store itself (web chat, API): the stored reply is
    delivered, and no delivery job is needed."""

    async def send(self, tenant: TenantContext, message: MessageOut) -> str | None:
        """Deliver an outbound message; returns the provider's message id, if any."""


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
