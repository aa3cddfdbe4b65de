"""Language detection on short and misspelt messages (word lists plus the model's column)."""

from __future__ import annotations

import pytest

from frontdesk.engine.intent.classifier import IntentClassifier
from frontdesk.engine.intent.language import detect_language

SPANISH = [
    "hola",
    "precio?",
    "ok",
    "kiero una pajina",
    "grasias",
    "cuanto bale",
    "buenas",
    "me regala info",
    "quiubo parce",
    "nesecito ayuda",
    "q mas",
    "agendar cita",
    "asesor",
    "se me cayo la pagina",
]
ENGLISH = [
    "hi",
    "price?",
    "thnks",
    "how mch is it",
    "hey",
    "wanna buy",
    "pls call me",
    "talk to human",
    "site is down",
    "good mornin",
    "book a meeting",
    "thx bye",
]


@pytest.mark.parametrize("text", SPANISH)
def test_spanish(classifier: IntentClassifier, text: str) -> None:
    assert classifier.classify(text).language == "es"


@pytest.mark.parametrize("text", ENGLISH)
def test_english(classifier: IntentClassifier, text: str) -> None:
    assert classifier.classify(text).language == "en"


def test_word_lists_alone_and_the_default() -> None:
    assert detect_language("hola") == "es"
    assert detect_language("hello") == "en"
    assert detect_language("ok") == "es"
    assert detect_language("ok", default="en") == "en"
    assert detect_language("ok", model_logit=-2.0) == "en"


def test_model_evidence_outweighs_a_weak_word_hint() -> None:
    assert detect_language("hola hello") == "es"
    assert detect_language("hola hello", model_logit=-0.5) == "en"
