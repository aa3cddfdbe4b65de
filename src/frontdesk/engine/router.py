"""The router: which agent answers this message, and why.

``route`` is a pure function of the tenant's settings and pack, the conversation's status and
engine state, the message's intent and language, the button tapped and the time. Its rules, in
order (the first that applies wins; each adds its reason to the decision):

1. A conversation a person has (status ``handoff``) or that is ``closed`` gets no bot reply.
2. The customer asks for a person (intent ``human_handoff``, or the advisor button) → handoff
   (a message that also raises an objection or gives buying signals needs the intent engine
   to be ``SURE_CONFIDENCE`` sure: "I had a bad experience with another agency" is an
   objection to answer, not a request for a person).
3. ``low_confidence_handoff_after`` unclear messages in a row → handoff.
4. Sales mode, a high-value lead (score ≥ ``high_value_score``) not yet offered an advisor →
   handoff (``handoff_on_high_value``) or the sales agent offering WhatsApp with an advisor.
5. A support problem (intent ``support``) → the support agent — in sales mode only when the
   message carries no objection and no budget, timeline or contact details, does not answer
   the qualification question just asked ("unos 200 productos y todavía no tengo pasarela"),
   and the intent engine is at least ``SALES_SUPPORT_CONFIDENCE`` sure.
6. Support mode → the FAQ agent (the support agent when FAQ is disabled).
7. Sales mode → the sales agent.

An agent the tenant disabled is replaced by the next that fits (sales, support, faq). After
hours the bot still answers; a handoff then says when people are back, or with
``after_hours: "bot_only"`` the bot keeps the conversation and offers other ways to reach the
business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from frontdesk.engine.choices import Choice
from frontdesk.engine.packs.schema import WEEKDAYS, ContextPack
from frontdesk.engine.state import EngineState
from frontdesk.tenancy.schemas import AgentName, TenantSettings

NO_REPLY_STATUSES: Final = frozenset({"handoff", "closed"})
SALES_SUPPORT_CONFIDENCE: Final = 0.7
"""In sales mode a message goes to support only when the intent engine is this sure."""
SURE_CONFIDENCE: Final = 0.7
"""A message with an objection or buying signals is handed off on intent only this sure."""
_FALLBACK_AGENTS: Final[tuple[AgentName, ...]] = ("sales", "support", "faq")


@dataclass(frozen=True, slots=True)
class RouteContext:
    """What the router looks at for one message."""

    settings: TenantSettings
    pack: ContextPack
    status: str
    intent: str
    confidence: float
    state: EngineState
    """The conversation's state with this message's score and unclear streak already in."""
    language: str | None = None
    """The language the intent engine detected, when the message is long enough to tell."""
    conversation_language: str | None = None
    choice: Choice | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    buying: bool = False
    """The message raises an objection or gives a budget, timeline or contact details: a
    sales conversation, whatever else the intent engine reads in it."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The router's answer: the agent (``None``: the bot does not reply) and its reasons."""

    agent: AgentName | None
    intent: str
    confidence: float
    language: str
    reasons: tuple[str, ...]
    after_hours: bool = False
    back_at: datetime | None = None
    """When the business opens next (set after hours)."""
    offer_advisor: bool = False
    """Sales: a high-value lead is offered WhatsApp with an advisor instead of a handoff."""
    unclear: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored with the reply)."""
        return {
            "agent": self.agent,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "reasons": list(self.reasons),
            "after_hours": self.after_hours,
            "back_at": self.back_at.isoformat() if self.back_at else None,
            "offer_advisor": self.offer_advisor,
        }


def choose_language(
    settings: TenantSettings,
    pack: ContextPack,
    *,
    detected: str | None,
    conversation: str | None,
) -> str:
    """The detected language, else the conversation's, else the tenant's default — always one
    the tenant and its pack speak."""
    allowed = [code for code in settings.languages if code in pack.languages] or [
        pack.default_language
    ]
    for candidate in (detected, conversation, settings.default_language, pack.default_language):
        if candidate in allowed:
            return candidate
    return allowed[0]


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def opening_hours(
    settings: TenantSettings, pack: ContextPack
) -> tuple[dict[str, tuple[str, str]], ZoneInfo]:
    """Per weekday (``mon`` …) the opening and closing times, and their time zone: the
    tenant's ``business_hours`` in its ``timezone``, else the pack's hours."""
    days = settings.business_hours.days
    if days is not None:
        zone = _zone(settings.timezone) or ZoneInfo("UTC")
        own: dict[str, tuple[str, str]] = {
            day: (hours.opens, hours.closes) for day, hours in days.items()
        }
        return own, zone
    hours = pack.company.hours
    zone = _zone(hours.timezone) or _zone(settings.timezone) or ZoneInfo("UTC")
    schedule: dict[str, tuple[str, str]] = {
        day: (rule.opens, rule.closes) for rule in hours.schedule for day in rule.days
    }
    return schedule, zone


def _at(moment: datetime, clock: str) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return moment.replace(hour=hour, minute=minute, second=0, microsecond=0)


def business_status(
    settings: TenantSettings, pack: ContextPack, now: datetime
) -> tuple[bool, datetime | None]:
    """Whether the business is open at ``now``, and when it opens next (``None`` when open,
    or when it never opens)."""
    schedule, zone = opening_hours(settings, pack)
    local = now.astimezone(zone)
    today = schedule.get(WEEKDAYS[local.weekday()])
    if today is not None and _at(local, today[0]) <= local < _at(local, today[1]):
        return True, None
    for offset in range(8):
        day = local + timedelta(days=offset)
        hours = schedule.get(WEEKDAYS[day.weekday()])
        if hours is None:
            continue
        opens = _at(day, hours[0])
        if opens > local:
            return False, opens
    return False, None


def _enabled(settings: TenantSettings, wanted: AgentName) -> AgentName | None:
    if wanted in settings.agents:
        return wanted
    return next((agent for agent in _FALLBACK_AGENTS if agent in settings.agents), None)


def route(context: RouteContext) -> Decision:
    """The decision for one message (see the module docstring for the rules)."""
    settings, state = context.settings, context.state
    routing = settings.routing
    language = choose_language(
        settings,
        context.pack,
        detected=context.language,
        conversation=context.conversation_language,
    )
    is_open, back_at = business_status(settings, context.pack, context.now)
    reasons: list[str] = []

    def decide(agent: AgentName | None, **extra: Any) -> Decision:
        chosen = agent
        if agent is not None:
            chosen = _enabled(settings, agent)
            if chosen != agent:
                reasons.append(f"agent {agent} is disabled for this tenant: {chosen}")
        if not is_open:
            reasons.append("outside business hours")
        return Decision(
            agent=chosen,
            intent=context.intent,
            confidence=context.confidence,
            language=language,
            reasons=tuple(reasons),
            after_hours=not is_open,
            back_at=back_at,
            unclear=state.low_confidence_streak > 0,
            **extra,
        )

    def handoff() -> Decision:
        if not is_open and settings.business_hours.after_hours == "bot_only":
            reasons.append("after hours the bot keeps the conversation (after_hours: bot_only)")
            return decide("sales" if settings.mode == "sales" else "support", offer_advisor=True)
        if "handoff" not in settings.agents:
            reasons.append("handoff is disabled: offering the other ways to reach the business")
            return decide("sales" if settings.mode == "sales" else "support", offer_advisor=True)
        return decide("handoff")

    if context.status in NO_REPLY_STATUSES:
        reasons.append(
            "a person has this conversation: the bot stays silent"
            if context.status == "handoff"
            else "the conversation is closed"
        )
        return decide(None)
    if context.choice == Choice("cta", "advisor"):
        reasons.append("the customer tapped the advisor button")
        return handoff()
    if context.intent == "human_handoff" and (
        not context.buying or context.confidence >= SURE_CONFIDENCE
    ):
        reasons.append(f"the customer asked for a person (confidence {context.confidence:.2f})")
        return handoff()
    limit = routing.low_confidence_handoff_after
    if limit and state.low_confidence_streak >= limit:
        reasons.append(f"{state.low_confidence_streak} unclear messages in a row (limit {limit})")
        return handoff()
    if (
        settings.mode == "sales"
        and state.score >= routing.high_value_score
        and not state.advisor_offered
    ):
        reasons.append(f"high-value lead: score {state.score:.2f} ≥ {routing.high_value_score:.2f}")
        if routing.handoff_on_high_value:
            return handoff()
        reasons.append("handoff_on_high_value is off: the bot offers WhatsApp with an advisor")
        return decide("sales", offer_advisor=True)
    if context.intent == "support" and (
        settings.mode == "support"
        or (
            not context.buying
            and state.pending_question is None
            and context.confidence >= SALES_SUPPORT_CONFIDENCE
        )
    ):
        reasons.append("a support problem")
        return decide("support")
    if settings.mode == "support":
        reasons.append("support mode")
        return decide("faq" if "faq" in settings.agents else "support")
    reasons.append(f"sales mode, intent {context.intent}")
    return decide("sales")
