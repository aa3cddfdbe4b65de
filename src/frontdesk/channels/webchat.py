"""Web chat: the SDK and widget read replies from the store and the event stream, so the
stored reply is the delivery; rendering keeps cards and quick replies as they are."""

from __future__ import annotations

from typing import Any, Final

from frontdesk.channels.base import Outbound, SendResult
from frontdesk.channels.render import Capabilities, clip, split_text
from frontdesk.engine.reply import QuickReply, Reply
from frontdesk.tenancy.context import TenantContext

CAPABILITIES: Final = Capabilities(
    max_text=4000, max_buttons=10, max_button_title=40, cards=True, max_list_rows=10
)


class WebChatAdapter:
    kind = "webchat"
    pushes = False
    capabilities = CAPABILITIES

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """One message per text chunk; quick replies and cards ride on the last one."""
        caps = self.capabilities
        chunks = split_text(reply.text, caps.max_text) or [""]
        quick = tuple(
            QuickReply(title=clip(q.title, caps.max_button_title), payload=q.payload)
            for q in reply.quick_replies[: caps.max_buttons]
        )
        payloads: list[dict[str, Any]] = [
            {"text": chunk, "quick_replies": [], "cards": []} for chunk in chunks[:-1]
        ]
        last = {
            "text": chunks[-1],
            "quick_replies": [q.to_dict() for q in quick],
            "cards": [card.to_dict() for card in reply.cards[: caps.max_list_rows]],
            "links": [link.to_dict() for link in reply.links[: caps.max_buttons]],
            "media": [item.to_dict() for item in reply.media[: caps.max_buttons]],
        }
        return [*payloads, last]

    async def send(self, tenant: TenantContext, outbound: Outbound) -> SendResult:
        return SendResult(provider_id=None)
