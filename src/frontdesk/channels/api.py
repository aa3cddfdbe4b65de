"""The API channel: a tenant's own system relays its customers' messages over signed requests.

Replies are stored on the conversation and read back through ``GET /v1/conversations/{id}``;
the adapter has nothing to push on its own.
"""

from __future__ import annotations

from frontdesk.conversations.schemas import MessageOut
from frontdesk.tenancy.context import TenantContext


class ApiChannelAdapter:
    kind = "api"
    pushes = False

    async def send(self, tenant: TenantContext, message: MessageOut) -> str | None:
        return None
