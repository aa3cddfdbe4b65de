"""The router's rules, each with its reason, and business hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.engine.choices import Choice, resolve_choice
from frontdesk.engine.router import RouteContext, business_status, choose_language, route
from frontdesk.engine.state import EngineState
from frontdesk.tenancy.schemas import TenantSettings
from tests.factories import PACK

OPEN = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Bogotá
CLOSED = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # Sunday


def context(intent: str = "pricing", **changes: Any) -> RouteContext:
    settings = TenantSettings.model_validate(changes.pop("settings", {}))
    values: dict[str, Any] = {
        "settings": settings,
        "pack": PACK,
        "status": "open",
        "intent": intent,
        "confidence": 0.9,
        "state": EngineState(),
        "now": OPEN,
    }
    values.update(changes)
    return RouteContext(**values)


@pytest.mark.parametrize("status", ["handoff", "closed"])
def test_no_reply_when_a_person_has_it_or_it_is_closed(status: str) -> None:
    decision = route(context(status=status, intent="human_handoff"))
    assert decision.agent is None
    assert decision.reasons


def test_asking_for_a_person_hands_off() -> None:
    decision = route(context("human_handoff"))
    assert decision.agent == "handoff"
    assert decision.reasons[0].startswith("the customer asked for a person")
    assert route(context("other", choice=Choice("cta", "advisor"))).agent == "handoff"


def test_repeated_unclear_messages_hand_off() -> None:
    assert route(context("other", state=EngineState(low_confidence_streak=2))).agent == "sales"
    decision = route(context("other", state=EngineState(low_confidence_streak=3)))
    assert decision.agent == "handoff"
    assert "3 unclear messages in a row" in decision.reasons[0]
    never = context(
        "other",
        state=EngineState(low_confidence_streak=9),
        settings={"routing": {"low_confidence_handoff_after": 0}},
    )
    assert route(never).agent == "sales"


def test_a_high_value_lead_goes_to_a_person_or_is_offered_whatsapp() -> None:
    hot = EngineState(score=0.9, stage="ready_to_buy")
    assert route(context(state=hot)).agent == "handoff"
    offered = route(context(state=hot, settings={"routing": {"handoff_on_high_value": False}}))
    assert (offered.agent, offered.offer_advisor) == ("sales", True)
    already = EngineState(score=0.9, stage="ready_to_buy", advisor_offered=True)
    assert route(context(state=already)).agent == "sales"


def test_support_problems_and_support_mode() -> None:
    assert route(context("support", confidence=0.95)).agent == "support"
    # In sales mode an unsure support reading, or one with buying signals, stays in sales.
    assert route(context("support", confidence=0.5)).agent == "sales"
    assert route(context("support", confidence=0.95, buying=True)).agent == "sales"
    assert route(context("pricing", settings={"mode": "support"})).agent == "faq"
    no_faq = {"mode": "support", "agents": ["support", "handoff"]}
    assert route(context("pricing", settings=no_faq)).agent == "support"


def test_disabled_agents_are_replaced() -> None:
    decision = route(context("human_handoff", settings={"agents": ["sales"]}))
    assert (decision.agent, decision.offer_advisor) == ("sales", True)
    decision = route(context("support", confidence=1.0, settings={"agents": ["sales"]}))
    assert decision.agent == "sales"
    assert any("disabled" in reason for reason in decision.reasons)


def test_after_hours() -> None:
    decision = route(context("human_handoff", now=CLOSED))
    assert (decision.agent, decision.after_hours) == ("handoff", True)
    assert decision.back_at is not None
    assert (decision.back_at.weekday(), decision.back_at.hour) == (0, 8)  # Monday 8:00
    bot_only = {"business_hours": {"after_hours": "bot_only"}}
    kept = route(context("human_handoff", now=CLOSED, settings=bot_only))
    assert (kept.agent, kept.offer_advisor) == ("sales", True)


def test_business_hours_from_the_tenant_settings() -> None:
    settings = TenantSettings.model_validate(
        {
            "timezone": "Europe/Madrid",
            "business_hours": {"days": {"sun": {"opens": "10:00", "closes": "12:00"}}},
        }
    )
    is_open, _ = business_status(settings, PACK, CLOSED)  # Sunday 16:00 in Madrid
    assert is_open is False
    is_open, _ = business_status(settings, PACK, datetime(2026, 11, 29, 10, tzinfo=UTC))
    assert is_open is True
    _, back_at = business_status(settings, PACK, OPEN)
    assert back_at is not None
    assert (back_at.weekday(), back_at.hour) == (6, 10)


def test_language() -> None:
    settings = TenantSettings()
    assert choose_language(settings, PACK, detected="en", conversation="es") == "en"
    assert choose_language(settings, PACK, detected=None, conversation="en") == "en"
    assert choose_language(settings, PACK, detected=None, conversation=None) == "es"
    spanish_only = TenantSettings(languages=("es",))
    assert choose_language(spanish_only, PACK, detected="en", conversation="en") == "es"
    assert route(context(language="en")).language == "en"


def test_buttons_are_read_back() -> None:
    assert resolve_choice(PACK, "Continuar por WhatsApp") == Choice("cta", "whatsapp")
    assert resolve_choice(PACK, "Book a consultation") == Choice("cta", "consultation")
    assert resolve_choice(PACK, "Tienda virtual") == Choice("service", "online-store")
    assert resolve_choice(PACK, "x", {"id": "cta:talk-to-advisor"}) == Choice("cta", "advisor")
    assert resolve_choice(PACK, "service:seo") == Choice("service", "seo")
    assert resolve_choice(PACK, "service:not-a-service") is None
    assert resolve_choice(PACK, "quiero una tienda virtual para mi negocio") is None


def test_an_unsure_handoff_reading_of_an_objection_stays_in_sales() -> None:
    assert route(context("human_handoff", confidence=0.6, buying=True)).agent == "sales"
    assert route(context("human_handoff", confidence=0.9, buying=True)).agent == "handoff"
    assert route(context("human_handoff", confidence=0.6)).agent == "handoff"


def test_an_answer_to_a_qualification_question_stays_in_sales() -> None:
    asked = EngineState(pending_question="products-count")
    assert route(context("support", confidence=0.95, state=asked)).agent == "sales"
    assert route(context("support", confidence=0.95)).agent == "support"
