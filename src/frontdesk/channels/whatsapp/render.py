"""One ``Reply`` → WhatsApp Cloud API message payloads, within WhatsApp's limits.

Text longer than a message is split where sentences end; up to three quick replies become
reply buttons, more become a list (ten rows at most); service cards, which WhatsApp has no
place for outside a product catalog, become lines of the text, and so do links (unless the text
already carries their address).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from frontdesk.channels.render import Capabilities, clip, split_text
from frontdesk.engine.reply import Link, Media, QuickReply, Reply, ServiceCard

CAPABILITIES: Final = Capabilities(
    max_text=4096,
    max_buttons=3,
    max_button_title=20,
    max_list_rows=10,
    max_row_title=24,
    max_row_description=72,
    max_interactive_body=1024,
)
MAX_BUTTON_ID: Final = 256
MAX_ROW_ID: Final = 200
MAX_CAPTION: Final = 1024
MAX_FILENAME: Final = 240
LIST_LABEL: Final = {"es": "Ver opciones", "en": "See options"}
Payload = dict[str, Any]


def render(reply: Reply) -> list[Payload]:
    """The payloads to send, in order (each still without ``to`` and ``messaging_product``):
    media first, then the text, with any buttons on its last part."""
    return [*(_media(item) for item in reply.media), *_messages(reply)]


def _media(item: Media) -> Payload:
    body: dict[str, Any] = {"link": item.url}
    if item.caption and item.kind != "audio":  # WhatsApp takes no caption on audio
        body["caption"] = clip(item.caption, MAX_CAPTION)
    if item.kind == "document" and item.filename:
        body["filename"] = clip(item.filename, MAX_FILENAME)
    return {"type": item.kind, item.kind: body}


def _messages(reply: Reply) -> list[Payload]:
    caps = CAPABILITIES
    text = _with_links(_with_cards(reply.text, reply.cards), reply.links)
    choices = reply.quick_replies[: caps.max_list_rows]
    if not choices:
        return [_text(chunk) for chunk in split_text(text, caps.max_text)] or []
    chunks = split_text(text, caps.max_text)
    last = chunks.pop() if chunks else ""
    tail = split_text(last, caps.max_interactive_body) if last else []
    body = tail.pop() if tail else ("Elige una opción" if reply.language == "es" else "Choose one")
    payloads = [_text(chunk) for chunk in (*chunks, *tail)]
    if len(choices) <= caps.max_buttons:
        payloads.append(_buttons(body, choices))
    else:
        payloads.append(_list(body, choices, reply.language))
    return payloads


def template(name: str, language: str) -> Payload:
    """An approved template, sent as it was approved (no parameters)."""
    return {"type": "template", "template": {"name": name, "language": {"code": language}}}


def _with_cards(text: str, cards: Sequence[ServiceCard]) -> str:
    lines = [f"• *{card.title}*: {card.summary} ({card.price_text})" for card in cards]
    return "\n\n".join(part for part in (text.strip(), "\n".join(lines)) if part)


def _with_links(text: str, links: Sequence[Link]) -> str:
    lines = [f"{link.title}: {link.url}" for link in links if link.url not in text]
    return "\n".join(part for part in (text, "\n".join(lines)) if part)


def _text(body: str) -> Payload:
    return {"type": "text", "text": {"body": body, "preview_url": "http" in body}}


def _titles(choices: Sequence[QuickReply], limit: int) -> list[str]:
    """Clipped titles, made unique (WhatsApp refuses two equal buttons)."""
    titles: list[str] = []
    for number, choice in enumerate(choices, start=1):
        title = clip(choice.title, limit) or str(number)
        if title in titles:
            suffix = f" {number}"
            title = clip(title, limit - len(suffix)) + suffix
        titles.append(title)
    return titles


def _ids(choices: Sequence[QuickReply], titles: Sequence[str], limit: int) -> list[str]:
    """The payloads sent back when tapped, made unique (an empty one becomes the title)."""
    ids: list[str] = []
    for number, (choice, title) in enumerate(zip(choices, titles, strict=True), start=1):
        value = (choice.payload.strip() or title)[:limit]
        if value in ids:
            suffix = f"#{number}"
            value = value[: limit - len(suffix)] + suffix
        ids.append(value)
    return ids


def _buttons(body: str, choices: Sequence[QuickReply]) -> Payload:
    titles = _titles(choices, CAPABILITIES.max_button_title)
    ids = _ids(choices, titles, MAX_BUTTON_ID)
    buttons = [
        {"type": "reply", "reply": {"id": id_, "title": title}}
        for id_, title in zip(ids, titles, strict=True)
    ]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


def _list(body: str, choices: Sequence[QuickReply], language: str) -> Payload:
    caps = CAPABILITIES
    titles = _titles(choices, caps.max_row_title)
    ids = _ids(choices, titles, MAX_ROW_ID)
    rows = []
    for choice, title, id_ in zip(choices, titles, ids, strict=True):
        row = {"id": id_, "title": title}
        if clip(choice.title, caps.max_row_title) != choice.title.strip():
            row["description"] = clip(choice.title, caps.max_row_description)
        rows.append(row)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {
                "button": LIST_LABEL.get(language, LIST_LABEL["en"]),
                "sections": [{"rows": rows}],
            },
        },
    }
