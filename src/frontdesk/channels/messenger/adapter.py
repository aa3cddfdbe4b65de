"""The Messenger channel: replies within Messenger's limits (2,000 characters of text, 13
quick replies, button and generic templates), sent as the tenant's page."""

from __future__ import annotations

from typing import Final

from frontdesk.channels.meta_messaging.adapter import MetaMessagingAdapter
from frontdesk.channels.meta_messaging.render import MAX_QUICK_REPLIES, Style
from frontdesk.channels.render import Capabilities

CAPABILITIES: Final = Capabilities(
    max_text=2000,
    max_buttons=MAX_QUICK_REPLIES,
    max_button_title=20,
    max_interactive_body=640,
    cards=True,
)
STYLE: Final = Style(CAPABILITIES, button_template=True, quick_replies_on_attachments=True)


class MessengerAdapter(MetaMessagingAdapter):
    kind = "messenger"
    capabilities = CAPABILITIES
    style = STYLE
