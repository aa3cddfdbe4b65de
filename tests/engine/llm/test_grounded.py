"""The grounded provider writes every draft kind in both languages, with only pack prices."""

from __future__ import annotations

import pytest

from frontdesk.engine.grounding import check, extract_amounts
from frontdesk.engine.language import guess_language
from frontdesk.engine.llm import DRAFT_KINDS, Draft, GroundedProvider, build_request, service_cards
from frontdesk.engine.llm.grounded import write
from frontdesk.engine.llm.tools import TOOL_NAMES
from frontdesk.engine.packs import load_default_pack

PACK = load_default_pack()


def draft(kind: str, language: str, **extra: object) -> Draft:
    defaults: dict[str, dict[str, object]] = {
        "answer_faq": {"faq": ("corporate-website", 0)},
        "recommend_services": {"service_ids": ("online-store", "seo")},
        "ask_question": {"service_ids": ("online-store",)},
        "handle_objection": {"objection_id": "too-expensive"},
        "call_to_action": {"cta": "consultation"},
    }
    return Draft(kind=kind, language=language, **{**defaults.get(kind, {}), **extra})  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("kind", DRAFT_KINDS)
async def test_every_kind_in_both_languages_is_grounded(kind: str, language: str) -> None:
    request = build_request(PACK, draft(kind, language), [("visitor", "hola")], tools=TOOL_NAMES)
    result = await GroundedProvider().chat(request)
    assert result.provider == "grounded"
    assert result.text.strip()
    assert "{" not in result.text  # every placeholder filled
    assert check(result.text, PACK) == []
    assert guess_language(result.text) == language
    assert result == GroundedProvider().answer(request)  # deterministic


async def test_recommend_services_prices_cards_and_question() -> None:
    request = build_request(
        PACK, draft("recommend_services", "es", greeting=True), [], tools=TOOL_NAMES
    )
    result = await GroundedProvider().chat(request)
    assert result.text.startswith("¡Hola!")
    assert "Precio: desde $4.500.000 hasta $18.000.000 COP (aprox. USD 1,125–4,500)." in result.text
    assert "desde $1.200.000 hasta $4.000.000 COP/mes" in result.text
    values = {amount.value for amount in extract_amounts(result.text)}
    assert {4_500_000, 18_000_000, 1_125, 4_500, 1_200_000, 4_000_000} <= values
    # The online store's own qualification question follows.
    assert result.text.endswith(
        "¿Cuántos productos vas a vender, más o menos, y ya tienes una pasarela de pagos como Wompi o Mercado Pago?"
    )
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("show_services", {"service_ids": ["online-store", "seo"]})
    ]
    assert [reply.payload for reply in result.quick_replies] == [
        "cta:book-consultation",
        "cta:whatsapp",
        "cta:request-quote",
    ]


def test_questions_already_asked_are_skipped() -> None:
    first = write(draft("ask_question", "en"), PACK).text
    assert first.startswith("Roughly how many products")
    second = write(draft("ask_question", "en", asked=("products-count",)), PACK).text
    assert second.startswith("Do you already have a website?")
    chosen = write(draft("ask_question", "en", question_id="timeline"), PACK).text
    assert chosen == "When would you like to have it ready?"


def test_handoff_proposes_the_tool_only_when_offered() -> None:
    offered = build_request(PACK, draft("handoff", "es"), [], tools=("handoff_to_human",))
    result = GroundedProvider().answer(offered)
    assert [c.name for c in result.tool_calls] == ["handoff_to_human"]
    assert "+57 300 123 4567" in result.text
    silent = build_request(PACK, draft("handoff", "es"), [], tools=())
    assert GroundedProvider().answer(silent).tool_calls == ()


def test_faq_answer_then_follow_up() -> None:
    text = write(draft("answer_faq", "es", cta="quote"), PACK).text
    answer, follow = text.split("\n\n")
    assert answer.startswith("El primer año de hosting y dominio")
    assert follow.startswith("Con gusto te preparamos una cotización formal")


def test_unknown_ids_degrade_to_the_fallback_message() -> None:
    fallback = write(draft("fallback", "en"), PACK).text
    assert write(draft("answer_faq", "en", faq=("seo", 99)), PACK).text == fallback
    assert write(draft("answer_faq", "en", faq=("nope", 0)), PACK).text == fallback
    assert write(draft("handle_objection", "en", objection_id="nope"), PACK).text == fallback
    assert write(draft("recommend_services", "en", service_ids=("nope",)), PACK).text == fallback


def test_drafts_must_say_what_they_need() -> None:
    with pytest.raises(ValueError, match="faq"):
        Draft(kind="answer_faq", language="es")
    with pytest.raises(ValueError, match="service_ids"):
        Draft(kind="recommend_services", language="es")
    with pytest.raises(ValueError, match="unknown draft kind"):
        Draft(kind="sing", language="es")  # type: ignore[arg-type]


def test_service_cards_skip_unknown_ids() -> None:
    cards = service_cards(PACK, ["branding", "nope"], "en")
    assert [card.service_id for card in cards] == ["branding"]
    assert cards[0].price_text.startswith("from COP 1,500,000 to COP 7,000,000")
