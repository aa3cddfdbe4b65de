"""The Instagram channel: replies within Instagram's limits (1,000 bytes of UTF-8 text, 13
quick replies on text, the generic template for cards; links as lines of the text), sent as
the tenant's account — through its linked page when the connection names one."""

from __future__ import annotations

from typing import Final

from frontdesk.channels.meta_messaging.adapter import MetaMessagingAdapter
from frontdesk.channels.meta_messaging.render import MAX_QUICK_REPLIES, Style
from frontdesk.channels.render import Capabilities
from frontdesk.tenancy.context import Connection

CAPABILITIES: Final = Capabilities(
    max_text=1000,
    max_text_bytes=1000,
    max_buttons=MAX_QUICK_REPLIES,
    max_button_title=20,
    cards=True,
)
STYLE: Final = Style(CAPABILITIES, button_template=False, quick_replies_on_attachments=False)


class InstagramAdapter(MetaMessagingAdapter):
    kind = "instagram"
    capabilities = CAPABILITIES
    style = STYLE

    def sender(self, connection: Connection) -> str:
        """The linked page (a Page access token), else ``me``: the account the token is
        Instagram's own for."""
        page_id = connection.options.get("page_id")
        return str(page_id) if page_id else "me"
