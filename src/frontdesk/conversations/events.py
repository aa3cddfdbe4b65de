"""What conversations announce once a transaction commits; the realtime hub listens."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from frontdesk.conversations.schemas import MessageOut


class ConversationEvents(Protocol):
    async def message(self, tenant_id: uuid.UUID, message: MessageOut) -> None:
        """A message was stored (inbound) or delivered (outbound)."""

    async def signal(
        self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        """A transient event (typing, status) that is not replayed on resume."""
