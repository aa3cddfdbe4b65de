"""The support and FAQ agents: answers from the pack's FAQs and catalog; the support agent
escalates to a person what it cannot answer, the FAQ agent offers the ways to reach the team."""

from __future__ import annotations

from typing import Final

from frontdesk.engine.agents.base import TurnContext, back_at_notice, faq_draft, faq_hit, phrase
from frontdesk.engine.agents.handoff import HandoffAgent
from frontdesk.engine.llm.draft import Draft
from frontdesk.engine.reply import Reply

FAQ_MIN_SCORE: Final = 6.0


class SupportAgent:
    """Answers from the FAQs; a support problem it has no answer for goes to a person."""

    name = "support"
    escalates = True

    def __init__(self, handoff: HandoffAgent | None = None) -> None:
        self.handoff = handoff or HandoffAgent()

    async def respond(self, turn: TurnContext) -> Reply:
        """The answer to ``turn`` from the pack, or an escalation."""
        intent = turn.decision.intent
        if intent == "greeting" and not turn.state.greeted:
            turn.state.greeted = True
            return await phrase(turn, Draft(kind="greet", language=turn.language))
        if intent == "goodbye_thanks":
            return await phrase(turn, Draft(kind="goodbye", language=turn.language))
        if turn.asks_for_contact or turn.decision.offer_advisor:
            notice = back_at_notice(turn)
            return await phrase(turn, Draft(kind="contact", language=turn.language), suffix=notice)
        hit = faq_hit(turn, minimum=FAQ_MIN_SCORE)
        if hit is not None:
            turn.notes.append(f"FAQ {hit.id}")
            return await phrase(turn, faq_draft(turn, hit))
        if intent == "support":
            return await self.cannot_answer(turn)
        if turn.signals.services:
            draft = Draft(
                kind="recommend_services",
                language=turn.language,
                service_ids=turn.signals.services,
                asked=tuple(turn.state.asked),
            )
            return await phrase(turn, draft)
        return await phrase(turn, Draft(kind="fallback", language=turn.language))

    async def cannot_answer(self, turn: TurnContext) -> Reply:
        """A support problem without an answer in the pack."""
        if self.escalates and "handoff" in turn.tenant.settings.agents:
            after_hours_bot = (
                turn.decision.after_hours
                and turn.tenant.settings.business_hours.after_hours == "bot_only"
            )
            if not after_hours_bot:
                turn.notes.append("no answer in the pack: escalated to a person")
                return await self.handoff.respond(turn, reason="support problem without an answer")
        turn.notes.append("no answer in the pack: offered the ways to reach the team")
        return await phrase(
            turn, Draft(kind="contact", language=turn.language), suffix=back_at_notice(turn)
        )


class FaqAgent(SupportAgent):
    """Answers from the FAQs and the catalog; never hands off by itself."""

    name = "faq"
    escalates = False
