"""Agents phrase drafts through the tenant's provider, and the guard keeps them to the pack."""

from __future__ import annotations

import uuid

from frontdesk.engine.agents import HandoffAgent, SalesAgent, TurnContext
from frontdesk.engine.llm.base import ChatRequest, ChatResult
from frontdesk.engine.router import Decision
from frontdesk.engine.scoring import ScoreUpdate, extract_signals
from frontdesk.engine.state import EngineState
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import TenantSettings
from tests.factories import PACK

TENANT = TenantContext(
    id=uuid.uuid4(), slug="t", name="T", status="active", settings=TenantSettings(), pack=PACK
)


class Inventing:
    """A provider that answers with a price and a discount the pack never states."""

    name = "inventing"

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        return ChatResult(
            text="¡La tienda cuesta $100.000 con 90% de descuento!", provider=self.name
        )


def turn(text: str, provider: Inventing, intent: str = "pricing", **changes: object) -> TurnContext:
    decision = Decision(agent="sales", intent=intent, confidence=1.0, language="es", reasons=())
    values: dict[str, object] = {
        "tenant": TENANT,
        "pack": PACK,
        "text": text,
        "language": "es",
        "decision": decision,
        "state": EngineState(),
        "signals": extract_signals(PACK, text, "es"),
        "score": ScoreUpdate(0, 0, "browsing", "browsing"),
        "provider": provider,
        "channel": "webchat",
    }
    values.update(changes)
    return TurnContext(**values)  # type: ignore[arg-type]


async def test_an_invented_price_is_replaced_by_the_grounded_phrasing() -> None:
    provider = Inventing()
    context = turn("¿Cuánto cuesta una tienda virtual?", provider)
    reply = await SalesAgent().respond(context)
    assert provider.requests, "the tenant's provider was asked"
    assert provider.requests[0].draft.kind == "recommend_services"
    assert provider.requests[0].draft.service_ids == ("online-store",)
    assert "100.000" not in reply.text
    assert "90%" not in reply.text
    assert "$4.500.000" in reply.text
    assert any(note.startswith("guard:") for note in context.notes)
    assert [card.service_id for card in reply.cards] == ["online-store"]


async def test_questions_are_asked_once_each() -> None:
    provider = Inventing()
    state = EngineState()
    asked: list[str | None] = []
    for text in ("Necesito una tienda virtual", "ok", "vale", "listo"):
        context = turn(text, provider, intent="purchase_intent", state=state)
        await SalesAgent().respond(context)
        asked.append(state.pending_question)
    questions = [question for question in asked if question is not None]
    assert len(questions) == len(set(questions))
    assert questions[0] == "products-count"


async def test_the_handoff_agent_hands_off() -> None:
    context = turn("quiero un asesor", Inventing(), intent="human_handoff")
    reply = await HandoffAgent().respond(context)
    assert reply.handoff is True
    assert [action.kind for action in reply.actions] == ["handoff"]
