"""The handoff agent: the bot steps back and a person of the business takes over.

Its reply carries the ``handoff`` action (and ``Reply.handoff``), so storing it sets the
conversation's status to ``handoff``: the bot stays silent until a person releases it. The
engine then emits ``conversation.handoff`` for the tenant's dashboard and webhooks. After
hours the reply also says when the team is back.
"""

from __future__ import annotations

from frontdesk.engine.agents.base import TurnContext, back_at_notice, phrase
from frontdesk.engine.llm.draft import Draft
from frontdesk.engine.reply import Action, Reply


class HandoffAgent:
    """See the module docstring."""

    name = "handoff"

    async def respond(self, turn: TurnContext, *, reason: str | None = None) -> Reply:
        """The handoff reply, with the reason the router (or ``reason``) gave."""
        why = reason or (turn.decision.reasons[0] if turn.decision.reasons else "handoff")
        turn.state.low_confidence_streak = 0
        turn.state.pending_question = None
        draft = Draft(kind="handoff", language=turn.language)
        return await phrase(
            turn,
            draft,
            actions=(Action("handoff", {"reason": why}),),
            suffix=back_at_notice(turn),
        )
