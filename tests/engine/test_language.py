"""Spanish/English detection on short, informal chat messages."""

from __future__ import annotations

import pytest

from frontdesk.engine.language import detect_language, guess_language, language_scores

SPANISH = [
    "hola",
    "ola q mas",
    "precio?",
    "cuanto vale una pagina",
    "¿Cuánto cuesta una tienda virtual?",
    "buenas tardes",
    "buenos dias",
    "necesito una pagina web",
    "q precio tiene el seo",
    "quiero vender por internet",
    "gracias",
    "me interesa",
    "tienen tienda online?",
    "cuanto cobran por un logo",
    "kiero una app",
    "nesecito ayuda con mis redes",
    "info porfa",
    "donde estan ubicados",
    "sumerce cuanto vale",
    "quiubo parce",
    "y el hosting cuanto?",
    "tienen descuento",
    "lo voy a pensar",
    "muy caro",
    "chao",
    "hablar con un asesor",
    "asesoria",
    "cotizacion",
    "el precio de la landing",
    "pagina web precio",
    "se me cayó la página",
    "mañana hablamos",
    "¡listo!",
    "cuanto bale una tienda",
]

ENGLISH = [
    "hi",
    "hello",
    "how much",
    "website price",
    "How much does a website cost?",
    "thanks",
    "i need an online store",
    "price?",
    "do you do seo",
    "can i talk to a human",
    "good morning",
    "what services do you offer",
    "looking for a logo",
    "hey there",
    "quote please",
    "where are you located",
    "too expensive",
    "thank you",
    "bye",
    "i want an app",
    "cost of a landing page",
    "need help with my instagram",
    "pls send pricing",
    "whats the price",
    "hire you for ads",
    "I'm interested",
    "my website is down",
    "can u build a shop",
    "how long does it take",
    "wanna sell online",
    "is there a discount",
    "who do i talk to",
    "I don't have time",
    "what's your phone number",
]


@pytest.mark.parametrize("text", SPANISH)
def test_spanish_examples(text: str) -> None:
    assert detect_language(text) == "es"
    assert detect_language(text, default="en") == "es"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_examples(text: str) -> None:
    assert detect_language(text) == "en"
    assert detect_language(text, default="es") == "en"


def test_enough_labelled_examples() -> None:
    assert len(SPANISH) >= 20
    assert len(ENGLISH) >= 20
    assert not set(SPANISH) & set(ENGLISH)


@pytest.mark.parametrize("text", ["", "   ", "ok", "?", "123", "seo", "app", "web", "jajaja", "👍"])
def test_unknown_falls_back_to_default(text: str) -> None:
    assert guess_language(text) is None
    assert detect_language(text) == "es"
    assert detect_language(text, default="en") == "en"


def test_ties_fall_back_to_default() -> None:
    spanish, english = language_scores("hola hello")
    assert spanish == english
    assert detect_language("hola hello", default="en") == "en"
    assert detect_language("hola hello", default="es") == "es"


def test_spanish_characters_are_evidence() -> None:
    assert guess_language("¿?") == "es"
    assert guess_language("ñ") == "es"


def test_result_is_always_a_supported_code() -> None:
    for text in [*SPANISH, *ENGLISH, "", "xyz"]:
        assert detect_language(text) in {"es", "en"}
