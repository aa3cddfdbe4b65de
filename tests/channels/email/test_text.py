"""Reading an email: quoted replies and signatures cut in Spanish and English, HTML made text,
Message-IDs and addresses read within bounds, machines' mail recognised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.channels.email.message import (
    MAX_IDS,
    IncomingEmail,
    address,
    automated,
    message_ids,
    parse_mime,
)
from frontdesk.channels.email.text import html_to_text, strip_reply
from tests.channels.email import payloads


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Sí, me interesa el plan básico.\n\nEl mar, 25 nov 2026 a las 9:14, Acme Soporte "
            "<soporte@acme.co> escribió:\n> Hola Luisa, ¿qué plan prefieres?\n> Saludos",
            "Sí, me interesa el plan básico.",
        ),
        (
            "Yes, the basic plan please.\n\nOn Tue, Nov 25, 2026 at 9:14 AM Acme Support <\n"
            "soporte@acme.co> wrote:\n> Which plan do you prefer?",
            "Yes, the basic plan please.",
        ),
        (
            "Perfecto.\n\nOn Tue, Nov 25, 2026 at 9:14 AM Acme Support <soporte@acme.co>\n"
            "wrote:\n> ok",
            "Perfecto.",
        ),
        (
            "Adjunto el logo.\n\n-----Original Message-----\nFrom: Acme\nSent: Tuesday\n"
            "To: Luisa\nSubject: Logo\n\nMándanos el logo",
            "Adjunto el logo.",
        ),
        (
            "Listo, enviado.\n\n________________________________\nDe: Acme Soporte\n"
            "Enviado: martes, 25 de noviembre de 2026 9:14\nPara: Luisa\nAsunto: Pago",
            "Listo, enviado.",
        ),
        (
            "Gracias!\n\nDe: Acme Soporte <soporte@acme.co>\nFecha: martes\nAsunto: Pago\n\nHola",
            "Gracias!",
        ),
        ("Mañana a las 3 me sirve.\n\nEnviado desde mi iPhone", "Mañana a las 3 me sirve."),
        ("Tomorrow at 3 works.\n\nSent from my iPhone", "Tomorrow at 3 works."),
        (
            "Hola,\n¿tienen hosting?\n\n-- \nLuisa Gómez\nGerente, Cliente SAS",
            "Hola,\n¿tienen hosting?",
        ),
        ("> citado arriba\nMi respuesta va aquí.", "Mi respuesta va aquí."),
        ("> todo es cita", "> todo es cita"),  # nothing of its own: kept whole, not lost
    ],
)
def test_quoted_replies_and_signatures_are_cut(body: str, expected: str) -> None:
    assert strip_reply(body) == expected


def test_html_becomes_text_without_its_quote_or_scripts() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>Hola &amp; gracias,</p><p>quiero <b>dos</b> páginas:<br>inicio y contacto</p>"
        "<ul><li>logo</li><li>fotos</li></ul>"
        '<div class="gmail_quote">El lun escribió:<blockquote>¿Qué necesitas?</blockquote></div>'
        "</body></html>"
    )
    assert html_to_text(html) == (
        "Hola & gracias,\n\nquiero dos páginas:\ninicio y contacto\n\n• logo\n• fotos"
    )


def test_a_plain_part_is_preferred_and_html_read_when_alone() -> None:
    both = payloads.mime(to="a@acme.example", text="texto plano", html="<p>texto html</p>")
    assert parse_mime(both.as_bytes()).text.strip() == "texto plano"
    html_only = payloads.mime(to="a@acme.example", text="", html="<p>solo <i>html</i></p>")
    assert parse_mime(html_only.as_bytes()).text == "solo html"


def test_message_ids_and_addresses() -> None:
    assert message_ids("<a@b.co> <c@d.co>\n\t<e@f.co>") == ("a@b.co", "c@d.co", "e@f.co")
    assert message_ids("sin corchetes") == ()
    assert address('"Gómez, Luisa" <Luisa@Cliente.CO>') == ("luisa@cliente.co", "Gómez, Luisa")
    assert address("no es una dirección") == ("", None)
    assert len(message_ids(" ".join(f"<id{n}@x.co>" for n in range(500)))) == MAX_IDS


@pytest.mark.parametrize(
    ("headers", "sender"),
    [
        ({"auto-submitted": "auto-generated"}, "a@b.co"),
        ({"precedence": "junk"}, "a@b.co"),
        ({"list-unsubscribe": "<mailto:x@y.co>"}, "a@b.co"),
        ({"x-autorespond": "1"}, "a@b.co"),
        ({}, "postmaster@b.co"),
        ({"return-path": "<>"}, "a@b.co"),
    ],
)
def test_machines_are_recognised(headers: dict[str, str], sender: str) -> None:
    email = IncomingEmail("id@x", sender, None, (), "", "", headers=headers)
    assert automated(email) is not None


def test_a_person_is_not_a_machine() -> None:
    email = IncomingEmail("id@x", "a@b.co", None, (), "", "", headers={"auto-submitted": "no"})
    assert automated(email) is None


@given(st.binary(max_size=3000))
def test_any_bytes_parse_into_a_bounded_email(raw: bytes) -> None:
    email = parse_mime(raw)
    assert len(email.subject) <= 200
    assert len(email.thread_ids) <= MAX_IDS
    assert all(len(i) <= 250 for i in (*email.in_reply_to, *email.references))


@given(st.text(max_size=2000))
def test_stripping_never_invents_text(body: str) -> None:
    stripped = strip_reply(body)
    assert all(line.strip() in body for line in stripped.split("\n"))
