"""One reply, each channel's payloads: never beyond a channel's limits, whatever the reply,
and nothing of the text lost."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.channels.api import ApiChannelAdapter
from frontdesk.channels.render import clip, split_text
from frontdesk.channels.webchat import WebChatAdapter
from frontdesk.channels.whatsapp import render as wa
from frontdesk.engine.reply import Media, QuickReply, Reply, ServiceCard

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
replies = st.builds(
    Reply,
    media=st.lists(media, max_size=3).map(tuple),
    text=texts,
    language=st.sampled_from(["es", "en"]),
    quick_replies=st.lists(quick_replies, max_size=14).map(tuple),
    cards=st.lists(cards, max_size=12).map(tuple),
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
