"""The API channel: a tenant's own system relays its customers' messages over signed requests.

Replies are stored on the conversation, read back through ``GET /v1/conversations/{id}`` and
pushed to the tenant's webhook endpoints (``message.created``); the adapter has nothing to push
on its own. Its rendering is the reply as plain JSON.
"""

from __future__ import annotations

from typing import Any, Final

from frontdesk.channels.base import Outbound, SendResult
from frontdesk.channels.render import Capabilities
from frontdesk.engine.reply import Reply
from frontdesk.tenancy.context import TenantContext

CAPABILITIES: Final = Capabilities(max_text=16_000, max_buttons=10, cards=True)


class ApiChannelAdapter:
    kind = "api"
    pushes = False
    capabilities = CAPABILITIES

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        return [reply.to_dict()]

    async def send(self, tenant: TenantContext, outbound: Outbound) -> SendResult:
        return SendResult(provider_id=None)
