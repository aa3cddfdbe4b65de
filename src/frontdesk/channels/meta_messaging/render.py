"""One ``Reply`` → Send API ``message`` objects, within a Messenger Platform channel's limits.

Media go first (by URL; a caption, which the Send API has no place for, follows as text), then
service cards as a generic template (a carousel, each card with a postback button that names
the service), then the text split within the channel's limit. On Messenger, links ride on the
last part as a button template (``web_url`` buttons); elsewhere they become lines of the text.
Quick replies (13 at most) ride on the last message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from frontdesk.channels.render import Capabilities, clip, split_text
from frontdesk.engine.reply import Link, Media, QuickReply, Reply, ServiceCard

MAX_QUICK_REPLIES: Final = 13
MAX_PAYLOAD: Final = 1000
MAX_TEMPLATE_BUTTONS: Final = 3
MAX_ELEMENTS: Final = 10
MAX_ELEMENT_TITLE: Final = 80
MAX_SUBTITLE: Final = 80
MAX_URL: Final = 2000
ATTACHMENT_TYPES: Final = {"image": "image", "video": "video", "audio": "audio", "document": "file"}
CHOOSE: Final = {"es": "Elige una opción", "en": "Choose one"}
MORE: Final = {"es": "Más información", "en": "More information"}
INTERESTED: Final = {"es": "Me interesa", "en": "I'm interested"}
Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Style:
    """What differs between the channels' renderings."""

    capabilities: Capabilities
    button_template: bool
    """Links as ``web_url`` buttons of a button template (Messenger)."""
    quick_replies_on_attachments: bool
    """Quick replies may ride on a template or attachment (Messenger), not only on text."""


def render(reply: Reply, style: Style) -> list[Payload]:
    """The ``message`` objects to send, in order."""
    caps = style.capabilities
    payloads = [part for item in reply.media for part in _media(item, caps)]
    if reply.cards:
        payloads.append(_cards(reply.cards, reply.language))
    web = _web_links(reply, style)
    text = _with_links(reply.text.strip(), [link for link in reply.links if link not in web])
    chunks = _split(text, caps)
    if web:
        last = chunks.pop() if chunks else ""
        tail = split_text(last, caps.max_interactive_body) if last else []
        body = tail.pop() if tail else _said(MORE, reply.language)
        payloads += [{"text": chunk} for chunk in (*chunks, *tail)]
        payloads.append(_button_template(body, web))
    else:
        payloads += [{"text": chunk} for chunk in chunks]
    choices = reply.quick_replies[:MAX_QUICK_REPLIES]
    if choices:
        if not payloads or not (style.quick_replies_on_attachments or "text" in payloads[-1]):
            payloads.append({"text": _said(CHOOSE, reply.language)})
        payloads[-1]["quick_replies"] = _quick_replies(choices, caps.max_button_title)
    return payloads


def _said(phrases: dict[str, str], language: str) -> str:
    return phrases.get(language, phrases["en"])


def _split(text: str, caps: Capabilities) -> list[str]:
    return split_text(text, caps.max_text, max_bytes=caps.max_text_bytes) if text else []


def _media(item: Media, caps: Capabilities) -> list[Payload]:
    attachment = {
        "attachment": {
            "type": ATTACHMENT_TYPES[item.kind],
            "payload": {"url": item.url, "is_reusable": True},
        }
    }
    return [attachment, *({"text": chunk} for chunk in _split(item.caption.strip(), caps))]


def _usable(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= MAX_URL and url.isprintable()


def _web_links(reply: Reply, style: Style) -> list[Link]:
    if not style.button_template:
        return []
    links = [link for link in reply.links if _usable(link.url) and link.url not in reply.text]
    return links[:MAX_TEMPLATE_BUTTONS]


def _with_links(text: str, links: Sequence[Link]) -> str:
    lines = [f"{link.title}: {link.url}".strip() for link in links if link.url not in text]
    return "\n".join(part for part in (text, *lines) if part.strip())


def _title(text: str, limit: int, number: int) -> str:
    return clip(text, limit) or str(number)


def _button_template(body: str, links: Sequence[Link]) -> Payload:
    buttons = [
        {"type": "web_url", "url": link.url, "title": _title(link.title, 20, number)}
        for number, link in enumerate(links, start=1)
    ]
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "button", "text": body, "buttons": buttons},
        }
    }


def _cards(cards: Sequence[ServiceCard], language: str) -> Payload:
    elements = []
    for number, card in enumerate(cards[:MAX_ELEMENTS], start=1):
        element: dict[str, Any] = {"title": _title(card.title, MAX_ELEMENT_TITLE, number)}
        details = " ".join(
            part for part in (card.summary, f"({card.price_text})") if part.strip("() ")
        )
        subtitle = clip(details, MAX_SUBTITLE)
        if subtitle:
            element["subtitle"] = subtitle
        element["buttons"] = [
            {
                "type": "postback",
                "title": _said(INTERESTED, language),
                "payload": f"service:{card.service_id}"[:MAX_PAYLOAD],
            }
        ]
        elements.append(element)
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "generic", "elements": elements},
        }
    }


def _quick_replies(choices: Sequence[QuickReply], limit: int) -> list[Payload]:
    replies = []
    for number, choice in enumerate(choices, start=1):
        title = _title(choice.title, limit, number)
        payload = (choice.payload.strip() or title)[:MAX_PAYLOAD]
        replies.append({"content_type": "text", "title": title, "payload": payload})
    return replies
