"""The purchase-intention score: signals from the text, contributions, decay and stages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.engine.scoring import (
    DECAY,
    INTENT_WEIGHTS,
    SIGNAL_WEIGHTS,
    apply,
    extract_signals,
    find_objection,
    named_services,
    score_turn,
    stage_of,
)
from frontdesk.engine.state import STAGES, EngineState
from tests.factories import PACK


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("tengo 3 millones", 3_000_000, None),
        ("mi presupuesto es $2M", 2_000_000, None),
        ("budget is 800 USD", 800, "USD"),
        ("presupuesto de 2.000.000", 2_000_000, None),
        ("puedo invertir 1,5 millones de pesos", 1_500_000, "COP"),
    ],
)
def test_budgets(text: str, value: float, currency: str | None) -> None:
    budget = extract_signals(PACK, text, "es").budget
    assert budget is not None
    assert budget.value == value
    assert budget.currency == currency


@pytest.mark.parametrize(
    "text", ["no tengo plata", "una tienda con 500 productos", "en 3 a 6 semanas", "hola"]
)
def test_not_budgets(text: str) -> None:
    assert extract_signals(PACK, text, "es").budget is None


@pytest.mark.parametrize(
    ("text", "timeline", "urgent"),
    [
        ("la necesito para el próximo mes", "para el proximo mes", False),
        ("asap please", "asap", True),
        ("en 2 semanas", "en 2 semanas", False),
        ("es urgente, lo antes posible", "lo antes posible", True),
        ("in three weeks", "in three weeks", False),
        ("quiero una página", None, False),
    ],
)
def test_timelines_and_urgency(text: str, timeline: str | None, urgent: bool) -> None:
    signals = extract_signals(PACK, text, "es")
    assert signals.timeline == timeline
    assert signals.urgent is urgent


def test_contact_details_and_name() -> None:
    signals = extract_signals(
        PACK, "Me llamo Ana Gómez, ana.gomez@Example.com, cel 300 123 4567", "es"
    )
    assert signals.email == "ana.gomez@example.com"
    assert signals.phone == "3001234567"
    assert signals.name == "Ana Gómez"
    assert extract_signals(PACK, "call me at +1 415 555 0100", "en").phone == "+14155550100"
    assert extract_signals(PACK, "presupuesto de 2.000.000", "es").phone is None


@pytest.mark.parametrize(
    ("text", "language", "services"),
    [
        ("quiero una tienda virtual", "es", ("online-store",)),
        ("necesito una landing page", "es", ("landing-page",)),
        ("necesito un logo y una tienda", "es", ("branding", "online-store")),
        ("how much does a website cost", "en", ("corporate-website",)),
        ("hola", "es", ()),
    ],
)
def test_named_services(text: str, language: str, services: tuple[str, ...]) -> None:
    assert named_services(PACK, text, language) == services


@pytest.mark.parametrize(
    ("text", "objection"),
    [
        ("es muy caro", "too-expensive"),
        ("son muy costosos", "too-expensive"),
        ("no tengo presupuesto", "too-expensive"),
        ("tengo 6 millones de presupuesto", None),
        ("lo voy a pensar", "think-about-it"),
        ("my nephew can do it", "cheaper-freelancer"),
        ("how much does a website cost?", None),
    ],
)
def test_objections(text: str, objection: str | None) -> None:
    assert find_objection(PACK, text) == objection


def test_a_turn_is_explained_and_signals_count_once() -> None:
    state = EngineState()
    signals = extract_signals(PACK, "Quiero una tienda virtual, tengo 5 millones", "es")
    first = score_turn(state, intent="purchase_intent", confidence=1.0, signals=signals)
    expected = (
        INTENT_WEIGHTS["purchase_intent"] + SIGNAL_WEIGHTS["budget"] + SIGNAL_WEIGHTS["service"]
    )
    assert first.after == pytest.approx(expected)
    assert first.explanation == [
        "+0.25 intent purchase_intent (1.00)",
        "+0.15 budget: 5 millones",
        "+0.08 named service: online-store",
    ]
    apply(state, first, signals)
    again = score_turn(state, intent="purchase_intent", confidence=1.0, signals=signals)
    # The same budget and service add nothing the second time; the score decays first.
    assert again.after == pytest.approx(first.after * DECAY + INTENT_WEIGHTS["purchase_intent"])


def test_objections_and_off_topic_lower_the_score() -> None:
    state = EngineState(score=0.5, stage="evaluating")
    signals = extract_signals(PACK, "es muy caro", "es")
    update = score_turn(
        state, intent="pricing", confidence=0.9, signals=signals, objections=("too-expensive",)
    )
    assert update.after < update.before
    assert "-0.08 objection: too-expensive" in update.explanation
    off = score_turn(
        state, intent="other", confidence=1.0, signals=extract_signals(PACK, "x", "es")
    )
    assert off.after < off.before


def test_stages() -> None:
    assert [stage_of(score) for score in (0.0, 0.2, 0.45, 0.7, 1.0)] == [
        "browsing",
        "interested",
        "evaluating",
        "ready_to_buy",
        "ready_to_buy",
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(INTENT_WEIGHTS)), st.floats(0, 1), st.text(max_size=80)),
        max_size=12,
    )
)
def test_the_score_stays_between_zero_and_one(turns: list[tuple[str, float, str]]) -> None:
    state = EngineState()
    for intent, confidence, text in turns:
        signals = extract_signals(PACK, text, "es")
        update = score_turn(state, intent=intent, confidence=confidence, signals=signals)
        assert 0.0 <= update.after <= 1.0
        assert update.stage in STAGES
        apply(state, update, signals)


def test_a_damaged_state_reads_as_new() -> None:
    assert EngineState.read({"score": "lots", "asked": 3}) == EngineState()
    assert EngineState.read(None) == EngineState()
    state = EngineState(score=0.4, asked=["budget"], unknown_field=1)  # type: ignore[call-arg]
    assert EngineState.read(state.dump()) == state
