"""What every agent shares: the turn it answers, the protocol, and phrasing a draft.

An agent decides *what* to say as a ``Draft`` (pack ids: which services, which FAQ, which
question, which call to action) and which actions go with it; the tenant's provider phrases
the draft (``grounded`` by default), and every answer passes the grounding guard — an answer
stating a price, percentage, promise or service the pack does not is replaced by the grounded
phrasing of the same draft.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from frontdesk.engine.choices import Choice
from frontdesk.engine.grounding.guard import check
from frontdesk.engine.grounding.retrieval import Hit
from frontdesk.engine.grounding.text import fold
from frontdesk.engine.llm.base import LLMProvider
from frontdesk.engine.llm.draft import CtaKind, Draft
from frontdesk.engine.llm.grounded import GroundedProvider, service_cards, template_values
from frontdesk.engine.llm.prompt import build_request
from frontdesk.engine.packs.schema import WEEKDAYS, ContextPack, LanguageCode
from frontdesk.engine.reply import Action, Link, Reply
from frontdesk.engine.router import Decision
from frontdesk.engine.scoring import ScoreUpdate, Signals
from frontdesk.engine.state import EngineState
from frontdesk.tenancy.context import TenantContext

GROUNDED: Final = GroundedProvider()

_CONTACT_QUESTION: Final = re.compile(
    r"\b(?:donde (?:estan|quedan|los encuentro)|ubicad[oa]s?|ubicacion|direccion|horarios?|"
    r"a que hora|telefono|numero de contacto|correo|email|where are you|located|location|"
    r"address|opening hours|business hours|phone number|contact you)\b"
)
_BACK_AT: Final = {
    "es": "Ahora estamos fuera del horario de atención: el equipo vuelve el {day} a las {time}.",
    "en": "We are outside business hours right now: the team is back on {day} at {time}.",
}
_DAYS: Final = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


@dataclass
class TurnContext:
    """One customer message, understood and routed, for an agent to answer.

    ``state`` is the conversation's engine state; agents record in it what they ask
    (``pending_question``, ``asked``) and offer (``advisor_offered``).
    """

    tenant: TenantContext
    pack: ContextPack
    text: str
    language: LanguageCode
    decision: Decision
    state: EngineState
    signals: Signals
    score: ScoreUpdate
    provider: LLMProvider
    channel: str
    history: Sequence[tuple[str, str]] = ()
    """Earlier turns, oldest first, as ``(role, text)`` with role ``visitor`` or ``assistant``."""
    hits: Sequence[Hit] = ()
    choice: Choice | None = None
    objection: str | None = None
    new_services: tuple[str, ...] = ()
    """Services named for the first time in this conversation."""
    notes: list[str] = field(default_factory=list)
    """How the answer came about (provider fallbacks, guard replacements), for the decision."""

    @property
    def asks_for_contact(self) -> bool:
        """Whether the message asks where, when or how to reach the business."""
        return bool(_CONTACT_QUESTION.search(fold(self.text)))


class Agent(Protocol):
    """Anything that answers a routed turn."""

    name: str

    async def respond(self, turn: TurnContext) -> Reply:
        """The reply to ``turn`` (text, buttons, cards, links and actions)."""
        ...


def back_at_notice(turn: TurnContext) -> str | None:
    """When the team is back, after hours (``None`` during business hours)."""
    back_at = turn.decision.back_at
    if not turn.decision.after_hours or back_at is None:
        return None
    return _format_back_at(back_at, turn.language)


def _format_back_at(moment: datetime, language: str) -> str:
    lang = "en" if language == "en" else "es"
    day = _DAYS[lang][WEEKDAYS.index(WEEKDAYS[moment.weekday()])]
    return _BACK_AT[lang].format(day=day, time=f"{moment.hour}:{moment.minute:02d}")


def whatsapp_link(pack: ContextPack, language: str) -> Link:
    """The business's ``wa.me`` link, titled with its WhatsApp call to action."""
    cta = pack.strategies.cta("whatsapp")
    title = pack.text(cta.label, language) if cta is not None else "WhatsApp"
    return Link(title=title, url=template_values(pack, language)["whatsapp_link"])


def cta_actions(
    turn: TurnContext, kind: CtaKind | None
) -> tuple[tuple[Action, ...], tuple[Link, ...]]:
    """The actions and links that go with offering the call to action ``kind``."""
    services = list(turn.state.services[:3])
    if kind == "whatsapp":
        return (
            (Action("transfer", {"channel": "whatsapp"}),),
            (whatsapp_link(turn.pack, turn.language),),
        )
    if kind == "consultation":
        return (Action("schedule", {"service_ids": services}),), ()
    if kind == "advisor":
        return (Action("handoff", {"reason": "advisor requested"}),), ()
    return (), ()


async def phrase(
    turn: TurnContext,
    draft: Draft,
    *,
    actions: Sequence[Action] = (),
    links: Sequence[Link] = (),
    suffix: str | None = None,
) -> Reply:
    """``draft`` phrased by the tenant's provider, guarded, as a ``Reply`` with ``actions``."""
    turns = [*turn.history, ("visitor", turn.text)]
    tools = ("handoff_to_human",) if draft.kind == "handoff" else ("show_services",)
    request = build_request(
        turn.pack,
        draft,
        turns,
        hits=turn.hits,
        tools=tools,
        max_tokens=turn.tenant.settings.llm.max_tokens,
    )
    result = await turn.provider.chat(request)
    if result.fallback_reason:
        turn.notes.append(f"provider {result.provider} fell back: {result.fallback_reason}")
    text, quick_replies = result.text, result.quick_replies
    violations = check(text, turn.pack) if text else []
    if not text or violations:
        grounded = GROUNDED.answer(request)
        turn.notes.append(
            "guard: "
            + (", ".join(f"{v.kind} {v.text}" for v in violations[:3]) or "empty answer")
            + " → grounded phrasing"
        )
        text, quick_replies = grounded.text, grounded.quick_replies
    if not quick_replies:
        quick_replies = GROUNDED.answer(request).quick_replies
    shown: list[str] = list(draft.service_ids) if draft.kind == "recommend_services" else []
    for call in result.tool_calls:
        if call.name == "show_services":
            shown += [str(s) for s in call.arguments.get("service_ids", [])]
    if suffix:
        text = f"{text}\n\n{suffix}"
    handoff = any(action.kind == "handoff" for action in actions)
    return Reply(
        text=text,
        language=turn.language,
        intent=turn.decision.intent,
        quick_replies=quick_replies,
        cards=service_cards(turn.pack, list(dict.fromkeys(shown))[:3], turn.language),
        handoff=handoff,
        links=tuple(links),
        actions=tuple(actions),
    )


def faq_hit(turn: TurnContext, *, minimum: float) -> Hit | None:
    """The top retrieval hit when it is a FAQ scoring at least ``minimum``."""
    top = turn.hits[0] if turn.hits else None
    if top is not None and top.kind == "faq" and top.score >= minimum:
        return top
    return None


def faq_draft(turn: TurnContext, hit: Hit, **extra: object) -> Draft:
    """The draft answering the FAQ ``hit``."""
    if hit.service_id is None or hit.faq_index is None:
        raise ValueError(f"{hit.id} is not a FAQ hit")
    return Draft(
        kind="answer_faq",
        language=turn.language,
        faq=(hit.service_id, hit.faq_index),
        asked=tuple(turn.state.asked),
        **extra,  # type: ignore[arg-type]
    )
