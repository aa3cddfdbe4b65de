"""One reply, each channel's payloads: never beyond a channel's limits, whatever the reply,
and nothing of the text lost."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.channels.api import ApiChannelAdapter
from frontdesk.channels.email import render as email_render
from frontdesk.channels.instagram.adapter import STYLE as INSTAGRAM
from frontdesk.channels.messenger.adapter import STYLE as MESSENGER
from frontdesk.channels.meta_messaging import render as meta_render
from frontdesk.channels.render import clip, split_text
from frontdesk.channels.webchat import WebChatAdapter
from frontdesk.channels.whatsapp import render as wa
from frontdesk.engine.reply import Link, Media, QuickReply, Reply, ServiceCard

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
texts = st.lists(
    st.one_of(words, st.sampled_from([". ", "! ", "? ", "\n", "\n\n", " ", "…"])), max_size=400
).map("".join)
quick_replies = st.builds(QuickReply, title=words, payload=words)
cards = st.builds(ServiceCard, service_id=words, title=words, summary=words, price_text=words)
media = st.builds(
    Media,
    kind=st.sampled_from(["image", "document", "video", "audio"]),
    url=st.text(alphabet="abcdefghij/._-", max_size=60).map(
        lambda path: f"https://cdn.example/{path}"
    ),
    caption=texts,
    filename=st.one_of(st.none(), words),
)
links = st.builds(
    Link,
    title=words,
    url=st.one_of(
        words, st.text(alphabet="abcdefghij/._-", max_size=60).map("https://x.co/".__add__)
    ),
)
replies = st.builds(
    Reply,
    media=st.lists(media, max_size=3).map(tuple),
    text=texts,
    language=st.sampled_from(["es", "en"]),
    quick_replies=st.lists(quick_replies, max_size=14).map(tuple),
    cards=st.lists(cards, max_size=12).map(tuple),
    links=st.lists(links, max_size=5).map(tuple),
)


def _words(text: str) -> list[str]:
    return text.split()


@given(texts, st.integers(min_value=1, max_value=300))
def test_split_text_keeps_every_word_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(1 <= len(chunk) <= limit for chunk in chunks)
    # Words longer than the limit are cut, so compare the text without whitespace.
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_split_text_breaks_after_sentences() -> None:
    text = "Hacemos tiendas virtuales. Cuestan desde 2 millones! ¿Te cuento más?"
    assert split_text(text, 40) == [
        "Hacemos tiendas virtuales.",
        "Cuestan desde 2 millones!",
        "¿Te cuento más?",
    ]
    assert split_text("Uno.\n\nDos.", 100) == ["Uno.\n\nDos."]


def test_clip_marks_what_it_cut() -> None:
    assert clip("Diseño web profesional", 10) == "Diseño we…"
    assert clip("Corto", 10) == "Corto"


def _whatsapp_within_limits(payload: dict[str, Any]) -> None:
    caps = wa.CAPABILITIES
    if payload["type"] in ("image", "document", "video", "audio"):
        body = payload[payload["type"]]
        assert body["link"].startswith("https://")
        assert len(body.get("caption", "")) <= wa.MAX_CAPTION
        assert len(body.get("filename", "")) <= wa.MAX_FILENAME
        assert payload["type"] != "audio" or "caption" not in body
        return
    if payload["type"] == "text":
        assert 1 <= len(payload["text"]["body"]) <= caps.max_text
        return
    interactive = payload["interactive"]
    assert 1 <= len(interactive["body"]["text"]) <= caps.max_interactive_body
    if interactive["type"] == "button":
        buttons = interactive["action"]["buttons"]
        assert 1 <= len(buttons) <= caps.max_buttons
        titles = [b["reply"]["title"] for b in buttons]
        assert all(1 <= len(t) <= caps.max_button_title for t in titles)
        assert len(set(titles)) == len(titles)
        assert all(1 <= len(b["reply"]["id"]) <= wa.MAX_BUTTON_ID for b in buttons)
        assert len({b["reply"]["id"] for b in buttons}) == len(buttons)
    else:
        assert len(interactive["action"]["button"]) <= 20
        rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
        assert 1 <= len(rows) <= caps.max_list_rows
        assert all(1 <= len(row["title"]) <= caps.max_row_title for row in rows)
        assert all(len(row.get("description", "")) <= caps.max_row_description for row in rows)
        assert all(1 <= len(row["id"]) <= wa.MAX_ROW_ID for row in rows)
        assert len({row["title"] for row in rows}) == len(rows)
        assert len({row["id"] for row in rows}) == len(rows)


@settings(max_examples=300, deadline=None)
@given(replies)
def test_no_whatsapp_payload_ever_exceeds_whatsapps_limits(reply: Reply) -> None:
    payloads = wa.render(reply)
    for payload in payloads:
        _whatsapp_within_limits(payload)
    if reply.quick_replies:
        assert payloads[-1]["type"] == "interactive"
    if reply.text.strip():
        bodies = [
            p["text"]["body"] if p["type"] == "text" else p["interactive"]["body"]["text"]
            for p in payloads
            if p["type"] in ("text", "interactive")
        ]
        assert "".join("".join(bodies).split()).startswith("".join(reply.text.split()))


@settings(max_examples=200, deadline=None)
@given(replies)
def test_web_chat_payloads_stay_within_the_web_chats_limits(reply: Reply) -> None:
    caps = WebChatAdapter.capabilities
    payloads = WebChatAdapter().render(reply)
    assert all(len(p["text"]) <= caps.max_text for p in payloads)
    assert all(len(p["quick_replies"]) <= caps.max_buttons for p in payloads)
    assert all(
        len(q["title"]) <= caps.max_button_title for p in payloads for q in p["quick_replies"]
    )


def test_few_choices_become_buttons_and_many_a_list() -> None:
    three = Reply(
        text="¿Qué te interesa?",
        language="es",
        quick_replies=tuple(QuickReply(t, f"service:{t}") for t in ("Web", "SEO", "Redes")),
    )
    (buttons,) = wa.render(three)
    assert buttons["interactive"]["type"] == "button"
    five = Reply(
        text="Elige un servicio",
        language="es",
        quick_replies=tuple(QuickReply(f"Servicio {n}", f"service:s{n}") for n in range(12)),
    )
    (listing,) = wa.render(five)
    assert listing["interactive"]["type"] == "list"
    assert listing["interactive"]["action"]["button"] == "Ver opciones"
    assert len(listing["interactive"]["action"]["sections"][0]["rows"]) == 10


def test_service_cards_become_lines_of_text_on_whatsapp() -> None:
    reply = Reply(
        text="Te recomiendo:",
        language="es",
        cards=(
            ServiceCard("web", "Sitio web", "Tu página profesional", "$1.800.000 – $4.500.000"),
        ),
    )
    (payload,) = wa.render(reply)
    assert payload["text"]["body"] == (
        "Te recomiendo:\n\n• *Sitio web*: Tu página profesional ($1.800.000 – $4.500.000)"
    )


def test_the_api_channel_renders_the_reply_as_plain_json() -> None:
    reply = Reply(text="Hola", language="es", quick_replies=(QuickReply("Sí", "yes"),))
    assert ApiChannelAdapter().render(reply) == [reply.to_dict()]


def test_media_goes_first_by_link_with_its_caption() -> None:
    reply = Reply(
        text="Aquí está nuestro portafolio.",
        language="es",
        media=(
            Media(
                "document",
                "https://cdn.example/portafolio.pdf",
                "Portafolio 2026",
                "portafolio.pdf",
            ),
            Media("audio", "https://cdn.example/saludo.ogg", "no caption on audio"),
        ),
    )
    document, audio, text = wa.render(reply)
    assert document == {
        "type": "document",
        "document": {
            "link": "https://cdn.example/portafolio.pdf",
            "caption": "Portafolio 2026",
            "filename": "portafolio.pdf",
        },
    }
    assert audio == {"type": "audio", "audio": {"link": "https://cdn.example/saludo.ogg"}}
    assert text["text"]["body"] == "Aquí está nuestro portafolio."
    assert Reply.from_dict(reply.to_dict()) == reply


def _within_meta_limits(message: dict[str, Any], style: meta_render.Style) -> None:
    """One Send API ``message`` object within the channel's (and the Send API's) limits."""
    caps = style.capabilities
    if "text" in message:
        assert 1 <= len(message["text"]) <= caps.max_text
        assert not caps.max_text_bytes or len(message["text"].encode()) <= caps.max_text_bytes
    else:
        attachment = message["attachment"]
        payload = attachment["payload"]
        if attachment["type"] != "template":
            assert attachment["type"] in ("image", "video", "audio", "file")
            assert payload["url"].startswith("https://")
        elif payload["template_type"] == "button":
            assert style.button_template
            assert 1 <= len(payload["text"]) <= caps.max_interactive_body
            assert 1 <= len(payload["buttons"]) <= meta_render.MAX_TEMPLATE_BUTTONS
            assert all(1 <= len(b["title"]) <= 20 for b in payload["buttons"])
            assert all(b["url"].startswith(("https://", "http://")) for b in payload["buttons"])
        else:
            elements = payload["elements"]
            assert 1 <= len(elements) <= meta_render.MAX_ELEMENTS
            assert all(1 <= len(e["title"]) <= meta_render.MAX_ELEMENT_TITLE for e in elements)
            assert all(len(e.get("subtitle", "")) <= meta_render.MAX_SUBTITLE for e in elements)
            buttons = [b for e in elements for b in e["buttons"]]
            assert all(1 <= len(b["title"]) <= 20 for b in buttons)
            assert all(1 <= len(b["payload"]) <= meta_render.MAX_PAYLOAD for b in buttons)
    choices = message.get("quick_replies", [])
    assert len(choices) <= meta_render.MAX_QUICK_REPLIES
    assert all(1 <= len(q["title"]) <= caps.max_button_title for q in choices)
    assert all(1 <= len(q["payload"]) <= meta_render.MAX_PAYLOAD for q in choices)
    assert not choices or style.quick_replies_on_attachments or "text" in message


@pytest.mark.parametrize("style", [MESSENGER, INSTAGRAM], ids=["messenger", "instagram"])
@settings(max_examples=200, deadline=None)
@given(reply=replies)
def test_no_messenger_or_instagram_message_exceeds_the_channels_limits(
    style: meta_render.Style, reply: Reply
) -> None:
    messages = meta_render.render(reply, style)
    for message in messages:
        _within_meta_limits(message, style)
    assert bool(reply.quick_replies) == ("quick_replies" in messages[-1] if messages else False)
    bodies = [
        m.get("text") or m.get("attachment", {}).get("payload", {}).get("text", "")
        for m in messages
    ]
    said = "".join("".join(bodies).split())
    assert "".join(reply.text.split()) in said


@given(texts, st.integers(min_value=4, max_value=300))
def test_split_text_keeps_within_a_byte_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit, max_bytes=limit)
    assert all(1 <= len(chunk.encode()) <= limit for chunk in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


_EMAIL_TAGS = re.compile(r'</?(?:div|p|br|ul|li|strong|a)(?: (?:dir="auto"|href="[^"<>]*"))?>')


@settings(max_examples=200, deadline=None)
@given(reply=replies, transfer=st.booleans())
def test_an_email_stays_within_its_limits_and_escapes_the_reply(
    reply: Reply, transfer: bool
) -> None:
    link = "https://wa.me/573001234567?text=C%C3%B3digo%3A%20K7MQ-4TZP" if transfer else None
    whatsapp = Link("WhatsApp", "https://wa.me/573001234567")
    reply = replace(reply, links=(*reply.links, whatsapp))
    (email,) = email_render.render(reply, transfer_link=link)
    caps = email_render.CAPABILITIES
    assert len(email["text"]) <= caps.max_text
    assert len(email["html"]) <= email_render.MAX_HTML
    # Only our own tags: everything that came with the reply is escaped.
    assert "<" not in _EMAIL_TAGS.sub("", email["html"])
    assert email["html"].count("<li>") <= caps.max_buttons + email_render.MAX_CARDS
    assert "".join(reply.text.split()) in "".join(email["text"].split())
    if link:
        assert link in email["text"]
        assert all(
            url == link or not url.startswith("https://wa.me/")
            for url in re.findall(r"https://\S+", email["text"])
        )
