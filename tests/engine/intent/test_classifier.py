"""The packaged classifier on clear messages of every label in both languages; abstaining."""

from __future__ import annotations

from dataclasses import replace

import pytest

from frontdesk.engine.intent import LABELS, IntentClassifier, IntentPrediction, default_classifier
from frontdesk.engine.intent.labels import OTHER

CLEAR = {
    "purchase_intent": [
        ("quiero contratar una página web para mi negocio", "es"),
        ("listo, hagamos la tienda virtual, cómo pago el anticipo?", "es"),
        ("I want to hire you to build our online store", "en"),
        ("we're ready to sign up for the social media plan", "en"),
    ],
    "pricing": [
        ("cuánto vale una página web?", "es"),
        ("me regala una cotización para el logo", "es"),
        ("how much does an app cost?", "en"),
        ("do you accept credit cards?", "en"),
    ],
    "product_info": [
        ("ustedes hacen aplicaciones móviles?", "es"),
        ("qué incluye el plan de mantenimiento?", "es"),
        ("what services do you offer?", "en"),
        ("does the chatbot work on whatsapp?", "en"),
    ],
    "schedule": [
        ("podemos agendar una reunión el jueves?", "es"),
        ("me pueden llamar mañana en la tarde?", "es"),
        ("can we book a call for tomorrow morning?", "en"),
        ("I'd like to schedule a demo", "en"),
    ],
    "human_handoff": [
        ("quiero hablar con un asesor", "es"),
        ("me comunica con una persona de verdad por favor", "es"),
        ("can I talk to a real person?", "en"),
        ("connect me with a human agent", "en"),
    ],
    "support": [
        ("mi página web está caída desde ayer", "es"),
        ("quiero cancelar el plan y que me devuelvan la plata", "es"),
        ("my website is down and I'm losing sales", "en"),
        ("I want a refund, you charged me twice", "en"),
    ],
    "greeting": [
        ("hola", "es"),
        ("buenas tardes", "es"),
        ("hi", "en"),
        ("good morning", "en"),
    ],
    "goodbye_thanks": [
        ("muchas gracias, chao", "es"),
        ("listo, gracias por la información", "es"),
        ("thanks a lot, bye", "en"),
        ("thank you so much", "en"),
    ],
    "other": [
        ("quién ganó el partido anoche?", "es"),
        ("estoy buscando trabajo, tienen vacantes?", "es"),
        ("what's the weather like today?", "en"),
        ("can you recommend a good movie?", "en"),
    ],
}


def test_every_label_has_clear_examples_in_both_languages() -> None:
    assert set(CLEAR) == set(LABELS)
    for examples in CLEAR.values():
        assert {lang for _, lang in examples} == {"es", "en"}


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [(text, lang, label) for label, rows in CLEAR.items() for text, lang in rows],
)
def test_clear_examples(classifier: IntentClassifier, text: str, lang: str, label: str) -> None:
    prediction = classifier.classify(text)
    assert prediction.label == label, dict(prediction.scores)
    assert prediction.language == lang


def test_prediction_shape(classifier: IntentClassifier) -> None:
    prediction = classifier.classify("cuanto vale la tienda virtual")
    assert isinstance(prediction, IntentPrediction)
    assert set(prediction.scores) == set(LABELS)
    assert sum(prediction.scores.values()) == pytest.approx(1.0)
    assert prediction.confidence == max(prediction.scores.values())
    assert prediction.scores[prediction.label] == prediction.confidence
    assert not prediction.abstained
    with pytest.raises(TypeError):
        prediction.scores["pricing"] = 0.0  # type: ignore[index]


def test_below_threshold_abstains_to_other(classifier: IntentClassifier) -> None:
    text = "cuanto vale la tienda virtual"
    confident = classifier.classify(text)
    strict = IntentClassifier(
        replace(classifier.model, thresholds=dict.fromkeys(LABELS, 0.999))
    ).classify(text)
    assert confident.label == "pricing"
    assert strict.label == OTHER
    assert strict.abstained
    assert strict.confidence == pytest.approx(confident.confidence)
    assert strict.scores == confident.scores


@pytest.mark.parametrize("text", ["", "   ", "🙂", "?!", "x" * 20_000, "\x00\x01"])
def test_odd_input_still_classifies(classifier: IntentClassifier, text: str) -> None:
    prediction = classifier.classify(text)
    assert prediction.label in LABELS
    assert prediction.language in {"es", "en"}


def test_default_classifier_is_loaded_once() -> None:
    assert default_classifier() is default_classifier()
