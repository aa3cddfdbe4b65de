"""The sales agent: greets, discovers the need, recommends services with their real prices,
qualifies one question at a time, answers objections from the pack and closes with the call to
action that fits the stage (a quote, a meeting, or WhatsApp with an advisor)."""

from __future__ import annotations

from typing import Final

from frontdesk.engine.agents.base import (
    TurnContext,
    back_at_notice,
    cta_actions,
    faq_draft,
    faq_hit,
    phrase,
)
from frontdesk.engine.llm.draft import CtaKind, Draft
from frontdesk.engine.reply import Reply

MAX_QUESTIONS: Final = 3
"""Qualification questions asked before the agent moves to close."""
FAQ_MIN_SCORE: Final = 6.0


def next_question(turn: TurnContext, service_ids: list[str]) -> str | None:
    """The first qualification question for ``service_ids`` (or for any service) not asked."""
    wanted = set(service_ids)
    for question in turn.pack.strategies.qualification:
        applies = not question.services or bool(wanted & set(question.services))
        if applies and question.id not in turn.state.asked:
            return question.id
    return None


def closing_cta(turn: TurnContext) -> CtaKind | None:
    """The call to action that fits the stage: WhatsApp with an advisor (when the tenant has
    WhatsApp and the customer is on another channel) or a meeting for a ready buyer, a quote
    for one comparing prices, nothing yet before that."""
    stage = turn.state.stage
    if stage == "ready_to_buy":
        on_whatsapp = turn.channel == "whatsapp"
        if turn.tenant.channel("whatsapp") is not None and not on_whatsapp:
            return "whatsapp"
        return "consultation"
    if stage == "evaluating":
        pricing = sum(1 for intent in turn.state.intents if intent == "pricing")
        return "quote" if pricing >= 2 else "consultation"
    return None


class SalesAgent:
    """See the module docstring; every decision it takes is noted in ``turn.notes``."""

    name = "sales"

    async def respond(self, turn: TurnContext) -> Reply:
        """The sales answer to ``turn``."""
        decision, state, signals = turn.decision, turn.state, turn.signals
        choice = turn.choice
        if choice is not None and choice.kind == "cta":
            return await self.call_to_action(turn, choice.value)  # type: ignore[arg-type]
        if choice is not None and choice.kind == "service":
            return await self.recommend(turn, [choice.value])
        if decision.offer_advisor:
            state.advisor_offered = True
            turn.notes.append("offered WhatsApp with an advisor")
            return await self.call_to_action(turn, "whatsapp")
        if turn.objection is not None:
            turn.notes.append(f"objection {turn.objection}")
            state.objections = [*state.objections, turn.objection][-50:]
            state.pending_question = None
            draft = Draft(
                kind="handle_objection", language=turn.language, objection_id=turn.objection
            )
            return await phrase(turn, draft)
        intent = decision.intent
        if signals.email or signals.phone:
            turn.notes.append("contact details given")
            return await self.call_to_action(turn, closing_cta(turn) or "consultation")
        if intent == "schedule":
            return await self.call_to_action(turn, "consultation")
        if intent == "goodbye_thanks":
            return await phrase(turn, Draft(kind="goodbye", language=turn.language))
        if turn.asks_for_contact:
            return await phrase(turn, Draft(kind="contact", language=turn.language))
        named = list(signals.services)
        if intent == "greeting" and not named:
            if not state.greeted:
                state.greeted = True
                return await phrase(turn, Draft(kind="greet", language=turn.language))
            return await self.ask(turn, list(state.services))
        top = next((hit.id for hit in turn.hits if hit.kind == "service"), None)
        asks_about_another = bool(turn.new_services) and top in turn.new_services
        if (
            state.pending_question is not None
            and not asks_about_another
            and intent not in ("pricing", "product_info")
        ):
            turn.notes.append(f"answer to {state.pending_question}")
            return await self.progress(turn)
        if intent in ("product_info", "pricing"):
            hit = faq_hit(turn, minimum=FAQ_MIN_SCORE)
            if hit is not None:
                turn.notes.append(f"FAQ {hit.id}")
                return await phrase(turn, faq_draft(turn, hit, cta=closing_cta(turn)))
        if named:
            return await self.recommend(turn, named)
        if intent in ("pricing", "product_info"):
            featured = [s.id for s in turn.pack.services if s.featured] or [
                s.id for s in turn.pack.services
            ]
            return await self.recommend(turn, list(state.services[:1]) or featured[:3])
        if intent == "purchase_intent" or state.pending_question is not None:
            return await self.progress(turn)
        return await phrase(turn, Draft(kind="fallback", language=turn.language))

    async def recommend(self, turn: TurnContext, service_ids: list[str]) -> Reply:
        """The services with their prices, then the next question or the closing step."""
        turn.notes.append(f"recommend {', '.join(service_ids[:3])}")
        cta = closing_cta(turn) if len(turn.state.asked) >= 1 else None
        question = None if cta else next_question(turn, service_ids)
        self._asking(turn, question)
        draft = Draft(
            kind="recommend_services",
            language=turn.language,
            service_ids=tuple(service_ids[:3]),
            question_id=question,
            cta=cta,
            asked=tuple(turn.state.asked),
            greeting=turn.decision.intent == "greeting" and not turn.state.greeted,
        )
        actions, links = cta_actions(turn, cta)
        return await phrase(turn, draft, actions=actions, links=links)

    async def progress(self, turn: TurnContext) -> Reply:
        """After an answer: the next qualification question, or the call to action."""
        asked_here = len(turn.state.asked)
        cta = closing_cta(turn)
        if cta is not None or asked_here >= MAX_QUESTIONS:
            return await self.call_to_action(turn, cta or "consultation")
        return await self.ask(turn, list(turn.state.services))

    async def ask(self, turn: TurnContext, service_ids: list[str]) -> Reply:
        question = next_question(turn, service_ids)
        if question is None:
            return await self.call_to_action(turn, closing_cta(turn) or "consultation")
        self._asking(turn, question)
        draft = Draft(
            kind="ask_question",
            language=turn.language,
            service_ids=tuple(service_ids[:3]),
            question_id=question,
            asked=tuple(turn.state.asked),
        )
        return await phrase(turn, draft)

    async def call_to_action(self, turn: TurnContext, kind: CtaKind) -> Reply:
        """The pack's call to action ``kind`` with its actions (WhatsApp: a transfer)."""
        turn.notes.append(f"call to action {kind}")
        turn.state.pending_question = None
        actions, links = cta_actions(turn, kind)
        draft = Draft(kind="call_to_action", language=turn.language, cta=kind)
        suffix = back_at_notice(turn) if kind in ("whatsapp", "advisor") else None
        return await phrase(turn, draft, actions=actions, links=links, suffix=suffix)

    @staticmethod
    def _asking(turn: TurnContext, question: str | None) -> None:
        turn.state.pending_question = question
        if question is not None:
            turn.state.mark_asked(question)
            turn.notes.append(f"question {question}")
