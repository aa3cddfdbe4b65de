"""One ``Reply`` → one email: a plain-text body and an HTML alternative.

Email has room for everything a reply holds, so nothing is cut but absurd lengths: quick
replies become a list of suggested answers, service cards a list of services with their
prices, links and media links. Every piece of the reply is escaped in the HTML; only our own
few tags remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any, Final

from frontdesk.channels.render import ELLIPSIS, Capabilities, clip
from frontdesk.engine.reply import Link, Reply

CAPABILITIES: Final = Capabilities(
    max_text=50_000, max_buttons=10, max_button_title=100, max_list_rows=10, cards=True
)
MAX_CARDS: Final = 12
MAX_LINKS: Final = 10
MAX_HTML: Final = 8 * CAPABILITIES.max_text
"""Escaping can make a character six; the HTML body is bounded by what its text may be."""
SUGGESTIONS: Final = {"es": "Puedes responder, por ejemplo:", "en": "You can reply, for example:"}
TRANSFER: Final = {
    "es": "Continúa esta conversación por WhatsApp",
    "en": "Continue this conversation on WhatsApp",
}
WA_ME: Final = "https://wa.me/"


def render(reply: Reply, *, transfer_link: str | None = None) -> list[dict[str, Any]]:
    """The email's bodies: ``[{"text": …, "html": …}]``. ``transfer_link`` (a ``wa.me`` link
    carrying a transfer code) replaces the reply's plain WhatsApp link."""
    language = "en" if reply.language == "en" else "es"
    body = _clip(reply.text.strip(), CAPABILITIES.max_text // 2)
    choices = [clip(q.title, CAPABILITIES.max_button_title) for q in reply.quick_replies]
    choices = [c for c in choices if c][: CAPABILITIES.max_buttons]
    cards = [
        (clip(c.title, 200), clip(c.summary, 500), clip(c.price_text, 100))
        for c in reply.cards[:MAX_CARDS]
    ]
    links = _links(reply, language, transfer_link)
    text_parts = [body] if body else []
    html_parts = [_paragraphs(body)] if body else []
    if cards:
        text_parts.append("\n".join(f"• {t}: {s} ({p})" for t, s, p in cards))
        html_parts.append(
            "<ul>"
            + "".join(
                f"<li><strong>{escape(t)}</strong>: {escape(s)} ({escape(p)})</li>"
                for t, s, p in cards
            )
            + "</ul>"
        )
    if choices:
        text_parts.append(SUGGESTIONS[language] + "\n" + "\n".join(f"• {c}" for c in choices))
        html_parts.append(
            f"<p>{escape(SUGGESTIONS[language])}</p><ul>"
            + "".join(f"<li>{escape(c)}</li>" for c in choices)
            + "</ul>"
        )
    if links:
        text_parts.append("\n".join(f"{title}: {url}" for title, url in links))
        html_parts.append(
            "<p>"
            + "<br>".join(
                f'<a href="{escape(url, quote=True)}">{escape(title)}</a>' for title, url in links
            )
            + "</p>"
        )
    text = _clip("\n\n".join(text_parts), CAPABILITIES.max_text)
    html = "".join(html_parts)
    if len(html) > MAX_HTML:  # pragma: no cover (the parts' limits keep it within)
        html = _paragraphs(text)
    return [{"text": text, "html": f'<div dir="auto">{html}</div>'}]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _paragraphs(text: str) -> str:
    return "".join(
        "<p>" + "<br>".join(escape(line) for line in block.split("\n")) + "</p>"
        for block in text.split("\n\n")
        if block.strip()
    )


def _links(reply: Reply, language: str, transfer_link: str | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    items: Sequence[Link] = reply.links[:MAX_LINKS]
    for link in items:
        if not link.url.startswith(("https://", "http://")) or len(link.url) > 2048:
            continue
        if transfer_link and link.url.startswith(WA_ME):
            continue
        found.append((clip(link.title, 200) or link.url, link.url))
    for item in reply.media[:MAX_LINKS]:
        title = clip(item.caption or item.filename or "", 200) or item.kind
        found.append((title, item.url))
    if transfer_link:
        found.append((TRANSFER[language], transfer_link))
    return found
