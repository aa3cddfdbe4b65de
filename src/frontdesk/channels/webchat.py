"""Web chat: outbound messages go to the visitor's open event streams."""

from __future__ import annotations

from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.schemas import MessageOut
from frontdesk.tenancy.context import TenantContext


class WebChatAdapter:
    kind = "webchat"
    pushes = False

    def __init__(self, events: ConversationEvents) -> None:
        self._events = events

    async def send(self, tenant: TenantContext, message: MessageOut) -> str | None:
        await self._events.message(tenant.id, message)
        return None
