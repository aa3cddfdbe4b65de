"""The engine: one customer message in, the reply (or silence) out, with its decision.

classifier → signals and score → router → agent → provider → guard → ``Reply`` with actions;
then the actions are applied (lead created or updated, ``conversation.handoff`` emitted, a
closed conversation) and the conversation's engine state, score and stage are stored — all in
the caller's transaction, so a failed job leaves nothing behind and its retry starts clean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.delivery import webhooks
from frontdesk.engine.agents import (
    Agent,
    FaqAgent,
    HandoffAgent,
    SalesAgent,
    SupportAgent,
    TurnContext,
)
from frontdesk.engine.choices import Choice, resolve_choice
from frontdesk.engine.grounding.retrieval import search
from frontdesk.engine.language import guess_language
from frontdesk.engine.leads import sync_lead
from frontdesk.engine.llm.base import LLMProvider
from frontdesk.engine.llm.factory import GROUNDED, provider_for
from frontdesk.engine.reply import Action, Reply
from frontdesk.engine.router import RouteContext, choose_language, route
from frontdesk.engine.scoring import apply, extract_signals, find_objection, score_turn
from frontdesk.engine.state import EngineState
from frontdesk.security.crypto import SecretBox
from frontdesk.tenancy.context import TenantContext

MAX_TEXT = 2000
_CHOICE_INTENTS: dict[tuple[str, str], str] = {
    ("cta", "consultation"): "schedule",
    ("cta", "whatsapp"): "purchase_intent",
    ("cta", "quote"): "pricing",
    ("cta", "advisor"): "human_handoff",
}


class Prediction(Protocol):
    """What the intent engine says of one message."""

    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def language(self) -> str: ...


class Classifier(Protocol):
    """The intent engine (``engine.intent.classifier.IntentClassifier``)."""

    def classify(self, text: str) -> Prediction:
        """The intent of one message."""
        ...


def _default_classifier() -> Classifier:
    from frontdesk.engine.intent.classifier import default_classifier

    return default_classifier()


def log() -> Any:
    return structlog.get_logger("frontdesk.engine")


class Engine:
    """Decides on customer messages (see the module docstring).

    ``classifier`` defaults to the packaged intent model (loaded on first use); ``box`` opens
    the tenants' sealed LLM keys (without it every tenant gets the grounded provider);
    ``clock`` is for business hours.
    """

    def __init__(
        self,
        *,
        box: SecretBox | None = None,
        classifier: Classifier | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.box = box
        self._classifier = classifier
        self.clock = clock or (lambda: datetime.now(UTC))
        handoff = HandoffAgent()
        self.agents: dict[str, Agent] = {
            "sales": SalesAgent(),
            "support": SupportAgent(handoff),
            "faq": FaqAgent(handoff),
            "handoff": handoff,
        }

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            self._classifier = _default_classifier()
        return self._classifier

    async def provider(self, session: AsyncSession, tenant: TenantContext) -> LLMProvider:
        if self.box is None or tenant.settings.llm.provider == "grounded":
            return GROUNDED
        return await provider_for(session, self.box, tenant)

    async def decide(
        self,
        session: AsyncSession,
        tenant: TenantContext,
        conversation: Conversation,
        message: Message,
        *,
        history: Sequence[Message] = (),
    ) -> Reply | None:
        """The reply to ``message`` (``None``: the bot stays silent), its actions applied."""
        pack = tenant.pack
        if pack is None:
            return None
        settings = tenant.settings
        text = message.text[:MAX_TEXT]
        state = EngineState.read(conversation.engine_state)
        choice = resolve_choice(pack, text, _payload(message))
        prediction = self.classifier.classify(text)
        intent, confidence = prediction.label, float(prediction.confidence)
        if choice is not None:
            intent = _CHOICE_INTENTS.get((choice.kind, choice.value), "product_info")
            confidence = 1.0
        reliable = guess_language(text) is not None or len(text.split()) >= 3
        detected = prediction.language if reliable else None
        language = choose_language(
            settings, pack, detected=detected, conversation=conversation.language
        )
        signals = extract_signals(pack, text, language)
        objection = find_objection(pack, text)
        unclear = (
            choice is None
            and objection is None
            and (intent == "other" or confidence < settings.routing.low_confidence)
            and not (signals.services or signals.budget or signals.timeline)
            and not (signals.email or signals.phone)
        )
        answering = unclear and state.pending_question is not None
        state.low_confidence_streak = (
            state.low_confidence_streak + 1 if unclear and not answering else 0
        )
        new_services = tuple(s for s in signals.services if s not in state.services)
        update = score_turn(
            state,
            intent=intent,
            confidence=confidence,
            signals=signals,
            objections=(objection,) if objection else (),
        )
        apply(state, update, signals)
        state.turns += 1
        state.remember_intent(intent)
        if signals.budget is not None:
            state.mark_asked("budget")
            state.mark_asked("ads-budget")
        if signals.timeline is not None:
            state.mark_asked("timeline")
        decision = route(
            RouteContext(
                settings=settings,
                pack=pack,
                status=conversation.status,
                intent=intent,
                confidence=confidence,
                state=state,
                language=detected,
                conversation_language=conversation.language,
                choice=choice,
                now=self.clock(),
                buying=bool(
                    objection
                    or signals.budget
                    or signals.timeline
                    or signals.email
                    or signals.phone
                ),
            )
        )
        if answering:
            decision = replace(
                decision, reasons=(*decision.reasons, "read as the answer to the last question")
            )
        message.payload = {
            **(message.payload or {}),
            "intent": {
                "label": intent,
                "confidence": round(confidence, 4),
                "language": prediction.language,
            },
        }
        self._store(conversation, state)
        if decision.agent is None:
            log().info("engine.silent", tenant=tenant.slug, reasons=list(decision.reasons))
            return None
        turn = TurnContext(
            tenant=tenant,
            pack=pack,
            text=text,
            language=decision.language,  # type: ignore[arg-type]
            decision=decision,
            state=state,
            signals=signals,
            score=update,
            provider=await self.provider(session, tenant),
            channel=conversation.channel,
            history=[
                ("visitor" if m.direction == "in" else "assistant", m.text)
                for m in history
                if m.seq < message.seq
            ],
            hits=search(pack, text, decision.language, k=5),
            choice=choice,
            objection=objection,
            new_services=new_services,
        )
        reply = await self.agents[decision.agent].respond(turn)
        actions = list(reply.actions)
        lead = None
        if state.score >= settings.lead_score_threshold or state.lead_id is not None:
            lead = await sync_lead(
                session,
                tenant,
                conversation,
                state,
                key=str(message.id),
                extra=_lead_extra(actions),
            )
            if lead is not None:
                actions.append(
                    Action(
                        "create_or_update_lead",
                        {
                            "lead_id": str(lead.lead.id),
                            "change": lead.change,
                            "score": state.score,
                            "stage": state.stage,
                            "service_ids": list(state.services),
                        },
                    )
                )
        await self._apply(session, tenant, conversation, message, actions, decision.language)
        self._store(conversation, state)
        stored = {
            **decision.to_dict(),
            "score": {
                "before": update.before,
                "after": update.after,
                "delta": update.delta,
                "stage": update.stage,
                "stage_before": update.stage_before,
                "explanation": update.explanation,
            },
            "signals": _signals_out(turn),
            "actions": [action.kind for action in actions],
            "notes": turn.notes,
            "provider": turn.provider.name,
        }
        log().info(
            "engine.decided",
            tenant=tenant.slug,
            agent=decision.agent,
            intent=intent,
            score=state.score,
            actions=stored["actions"],
        )
        return replace(reply, actions=tuple(actions), decision=stored)

    @staticmethod
    def _store(conversation: Conversation, state: EngineState) -> None:
        conversation.engine_state = state.dump()
        conversation.score = state.score
        conversation.stage = state.stage

    @staticmethod
    async def _apply(
        session: AsyncSession,
        tenant: TenantContext,
        conversation: Conversation,
        message: Message,
        actions: Sequence[Action],
        language: str,
    ) -> None:
        for action in actions:
            if action.kind == "handoff":
                await webhooks.emit(
                    session,
                    tenant,
                    webhooks.CONVERSATION_HANDOFF,
                    {
                        "conversation_id": str(conversation.id),
                        "channel": conversation.channel,
                        "state": "requested",
                        "by": "bot",
                        "reason": str(action.data.get("reason", "")),
                        "language": language,
                        "score": conversation.score,
                    },
                    key=f"{webhooks.CONVERSATION_HANDOFF}:requested:{message.id}",
                )
            elif action.kind == "close":
                conversation.status = "closed"


def _payload(message: Message) -> Mapping[str, Any] | None:
    payload = message.payload
    return payload if isinstance(payload, Mapping) else None


def _lead_extra(actions: Sequence[Action]) -> dict[str, Any]:
    kinds = {action.kind for action in actions}
    extra: dict[str, Any] = {}
    if "schedule" in kinds:
        extra["wants_meeting"] = True
    if "transfer" in kinds:
        extra["offered_whatsapp"] = True
    return extra


def _signals_out(turn: TurnContext) -> dict[str, Any]:
    signals = turn.signals
    found: dict[str, Any] = {
        "services": list(signals.services),
        "budget": signals.budget.model_dump(mode="json") if signals.budget else None,
        "timeline": signals.timeline,
        "urgent": signals.urgent,
        "contact": [kind for kind in ("email", "phone") if getattr(signals, kind)],
        "objection": turn.objection,
        "choice": f"{turn.choice.kind}:{turn.choice.value}" if turn.choice else None,
    }
    return {key: value for key, value in found.items() if value not in (None, False, [])}


__all__ = ["Choice", "Classifier", "Engine", "Prediction"]
