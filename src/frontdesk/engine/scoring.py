"""The purchase-intention score: per conversation, 0–1, explained turn by turn.

Each customer message adds to the score what it shows — its intent, weighed by the intent
engine's confidence, and the buying signals found in its text: a budget (``tengo 3 millones``,
``$2M``, ``budget is 800 USD``), a timeline (``para el próximo mes``, ``in 2 weeks``, ``asap``),
urgency, a named service of the catalog, contact details (an email address, a phone number).
A signal counts the first time it is given (saying your budget twice does not make you a
better lead). Before the new contributions are added the previous score decays a little, so
a conversation that drifts away cools down; the result is clamped to 0–1 and mapped to a
stage. Every contribution is kept with its reason: that list is the explanation.

Everything here is a pure function of the text, the pack and the previous state, so the same
conversation always scores the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from frontdesk.engine.grounding.cache import PackCache
from frontdesk.engine.grounding.guard import extract_amounts, parse_number
from frontdesk.engine.grounding.retrieval import search
from frontdesk.engine.grounding.text import fold, terms
from frontdesk.engine.packs.schema import ContextPack
from frontdesk.engine.state import STAGES, Budget, EngineState, Stage

DECAY: Final = 0.95
"""Share of the previous score a new message starts from."""

INTENT_WEIGHTS: Final[dict[str, float]] = {
    "purchase_intent": 0.25,
    "schedule": 0.2,
    "pricing": 0.12,
    "product_info": 0.06,
    "human_handoff": 0.05,
    "greeting": 0.0,
    "goodbye_thanks": -0.03,
    "support": -0.05,
    "other": -0.04,
}
"""What each intent adds, at full confidence."""

SIGNAL_WEIGHTS: Final[dict[str, float]] = {
    "budget": 0.15,
    "timeline": 0.1,
    "urgency": 0.1,
    "service": 0.08,
    "contact": 0.2,
    "objection": -0.08,
}

STAGE_FLOORS: Final[tuple[tuple[float, Stage], ...]] = (
    (0.7, "ready_to_buy"),
    (0.45, "evaluating"),
    (0.2, "interested"),
    (0.0, "browsing"),
)
"""The lowest score of each stage, highest first."""

_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_PHONE: Final = re.compile(r"(?<![\w@.])\+?\d[\d\s().-]{5,18}\d(?![\w@])")
_NAME: Final = re.compile(
    r"\b(?i:me llamo|mi nombre es|my name is|soy|i am|i'm)\s+"
    r"(?P<name>[A-ZÁÉÍÓÚÑ][a-záéíóúñ]{1,30}(?:\s+[A-ZÁÉÍÓÚÑ][a-záéíóúñ]{1,30})?)"
)
_MONTHS: Final = (
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_COUNT: Final = r"(?:\d{1,3}|un|una|uno|dos|tres|cuatro|cinco|seis|a|one|two|three|four|five|six)"
_UNIT: Final = r"(?:dias?|semanas?|mes|meses|anos?|days?|weeks?|months?|years?)"
_TIMELINE: Final = re.compile(
    r"\b(?:"
    rf"(?:en|dentro de|in|within)\s+(?:unos?\s+|about\s+)?{_COUNT}\s+{_UNIT}"
    r"|(?:para|el|la|next|by)\s+(?:el\s+|la\s+)?(?:proximo|proxima|siguiente|next)\s+"
    r"(?:semana|mes|ano|week|month|year|lunes|viernes)"
    r"|(?:este|esta|this)\s+(?:semana|mes|ano|week|month|year)"
    r"|(?:fin|finales|end)\s+(?:de|of)\s+(?:mes|ano|the\s+month|the\s+year|month|year)"
    rf"|(?:para|en|by|in|before)\s+(?:{_MONTHS})"
    r"|para\s+(?:manana|hoy|ya|ayer)|tomorrow|today"
    r"|lo\s+antes\s+posible|cuanto\s+antes|asap|as\s+soon\s+as\s+possible|right\s+away"
    r"|de\s+inmediato|ya\s+mismo|immediately"
    r")\b"
)
_URGENT: Final = re.compile(
    r"\b(?:urgente|urgentemente|urge|lo\s+antes\s+posible|cuanto\s+antes|de\s+inmediato|"
    r"ya\s+mismo|para\s+ayer|para\s+hoy|urgent|urgently|asap|as\s+soon\s+as\s+possible|"
    r"right\s+away|immediately)\b"
)
_BUDGET_WORDS: Final = re.compile(
    r"\b(?:presupuesto|tengo|cuento\s+con|invertir|inversion|pagar|gastar|budget|spend|"
    r"afford|have|up\s+to|hasta)\b"
)
_BARE_AMOUNT: Final = re.compile(r"(?<![\d.,])\d{1,3}(?:[.,]\d{3})+(?![\d.,])|(?<![\d.,])\d{4,9}")
_NEGATED_BUDGET: Final = re.compile(
    r"\b(?:no\s+tengo\s+(?:plata|presupuesto|dinero)|sin\s+presupuesto|no\s+budget)\b"
)
_MIN_BUDGET: Final = 50.0
_MAX_SERVICE_HITS: Final = 3


@dataclass(frozen=True, slots=True)
class Signals:
    """The buying signals of one message."""

    budget: Budget | None = None
    timeline: str | None = None
    urgent: bool = False
    services: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    name: str | None = None


def _budget(text: str, folded: str) -> Budget | None:
    if _NEGATED_BUDGET.search(folded):
        return None
    amounts = [a for a in extract_amounts(text) if a.value >= _MIN_BUDGET]
    if amounts:
        best = max(amounts, key=lambda a: a.value)
        return Budget(value=best.value, currency=best.currency, text=best.text[:80])
    if not _BUDGET_WORDS.search(folded):
        return None
    bare = [m.group(0) for m in _BARE_AMOUNT.finditer(text)]
    values = [(parse_number(number), number) for number in bare]
    values = [(value, number) for value, number in values if value >= 1000]
    if not values:
        return None
    value, number = max(values)
    return Budget(value=value, currency=None, text=number)


def _phone(text: str) -> str | None:
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        international = match.group(0).startswith("+")
        if (8 if international else 10) <= len(digits) <= 15:
            return ("+" if match.group(0).startswith("+") else "") + digits
    return None


Keyword = tuple[int, str, str]
"""A service keyword as stems: ``(service order, service id, stems joined by spaces)``."""


def _keywords(pack: ContextPack) -> dict[str, dict[str, tuple[Keyword, ...]]]:
    """Per language, every service keyword as stems, by its first stem (so a message is only
    compared with the keywords that start with one of its words), in the pack's order."""
    result: dict[str, dict[str, tuple[Keyword, ...]]] = {}
    for language in pack.languages:
        index: dict[str, list[Keyword]] = {}
        for order, service in enumerate(pack.services):
            for keyword in service.keywords.all():
                if stems := terms(keyword, language):
                    index.setdefault(stems[0], []).append((order, service.id, " ".join(stems)))
        result[language] = {first: tuple(entries) for first, entries in index.items()}
    return result


def _triggers(pack: ContextPack) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every objection trigger, folded into words: ``(objection id, words)``."""
    return tuple(
        (objection.id, tuple(fold(trigger).split()))
        for objection in pack.strategies.objections
        for trigger in objection.triggers.all()
        if fold(trigger)
    )


_KEYWORDS: Final[PackCache[dict[str, dict[str, tuple[Keyword, ...]]]]] = PackCache(_keywords)
_TRIGGERS: Final[PackCache[tuple[tuple[str, tuple[str, ...]], ...]]] = PackCache(_triggers)


def named_services(pack: ContextPack, text: str, language: str) -> tuple[str, ...]:
    """The catalog services ``text`` names, by their keywords, best first.

    A service is named when one of its keywords appears in the text (compared as stemmed
    words, so plurals and accents do not matter). A keyword several services share goes to the
    one retrieval ranks higher for this text; the longest keyword matches come first.
    """
    words = terms(text, language)
    if not words:
        return ()
    joined = f" {' '.join(words)} "
    keywords = _KEYWORDS.get(pack)[pack.resolve_language(language)]
    named = sorted(
        keyword
        for first in set(words)
        for keyword in keywords.get(first, ())
        if f" {keyword[2]} " in joined
    )
    if not named:
        return ()
    ranking = {
        hit.id: rank
        for rank, hit in enumerate(search(pack, text, language, k=50, kinds=("service",)))
    }
    owners: dict[str, tuple[int, str]] = {}
    for order, service_id, phrase in named:
        rank = ranking.get(service_id, len(ranking) + order)
        current = owners.get(phrase)
        if current is None or rank < current[0]:
            owners[phrase] = (rank, service_id)
    # "landing page" names the landing page, not also every service known as a "page".
    covered = {
        phrase
        for phrase, (_, owner) in owners.items()
        for other, (_, other_owner) in owners.items()
        if other_owner != owner and other != phrase and f" {phrase} " in f" {other} "
    }
    best: dict[str, tuple[int, int]] = {}
    for phrase, (rank, service_id) in owners.items():
        if phrase in covered:
            continue
        length = len(phrase.split())
        previous = best.get(service_id)
        if previous is None or (-length, rank) < previous:
            best[service_id] = (-length, rank)
    ordered = sorted(best, key=lambda service_id: best[service_id])
    return tuple(ordered[:_MAX_SERVICE_HITS])


def _trigger_index(pack: ContextPack) -> dict[str, tuple[tuple[int, str, tuple[str, ...]], ...]]:
    """The objection triggers by their first word: ``(order, objection id, words)``."""
    index: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
    for order, (objection_id, phrase) in enumerate(_TRIGGERS.get(pack)):
        index.setdefault(phrase[0], []).append((order, objection_id, phrase))
    return {first: tuple(entries) for first, entries in index.items()}


_TRIGGER_INDEX: Final[PackCache[dict[str, tuple[tuple[int, str, tuple[str, ...]], ...]]]] = (
    PackCache(_trigger_index)
)


def _forms(word: str) -> tuple[str, ...]:
    """The words ``word`` may be written for: itself, or the singular of a plural."""
    if word.endswith("es"):
        return (word, word[:-1], word[:-2])
    if word.endswith("s"):
        return (word, word[:-1])
    return (word,)


def _says_at(words: Sequence[str], start: int, phrase: Sequence[str]) -> bool:
    """Whether ``phrase`` is written at ``words[start]``, each word as written or in its
    plural."""
    if start + len(phrase) > len(words):
        return False
    return all(
        word in (wanted, f"{wanted}s", f"{wanted}es")
        for word, wanted in zip(words[start : start + len(phrase)], phrase, strict=True)
    )


def find_objection(pack: ContextPack, text: str) -> str | None:
    """The pack's objection whose trigger ``text`` says (the longest trigger wins, then the
    pack's order).

    Words are compared as written (folded, plurals allowed), stop words included: "no tengo
    presupuesto" is an objection, "tengo 6 millones de presupuesto" is not. Only the triggers
    whose first word the text has are tried."""
    words = fold(text).split()
    index = _TRIGGER_INDEX.get(pack)
    best: tuple[int, int, str] | None = None
    for start, word in enumerate(words):
        for form in _forms(word):
            for order, objection_id, phrase in index.get(form, ()):
                candidate = (-len(phrase), order, objection_id)
                if (best is None or candidate < best) and _says_at(words, start, phrase):
                    best = candidate
    return best[2] if best else None


def extract_signals(pack: ContextPack, text: str, language: str) -> Signals:
    """The buying signals of one message (see the module docstring)."""
    text = text[:2000]
    folded = fold(text)
    email_match = _EMAIL.search(text)
    without_email = _EMAIL.sub(" ", text)
    timeline = _TIMELINE.search(folded)
    name = _NAME.search(text)
    return Signals(
        budget=_budget(without_email, folded),
        timeline=timeline.group(0) if timeline else None,
        urgent=bool(_URGENT.search(folded)),
        services=named_services(pack, text, language),
        email=email_match.group(0).lower() if email_match else None,
        phone=_phone(without_email),
        name=name.group("name") if name else None,
    )


@dataclass(frozen=True, slots=True)
class Contribution:
    """What moved the score, and by how much."""

    reason: str
    delta: float

    def describe(self) -> str:
        """E.g. ``+0.15 budget: 3 millones``."""
        return f"{self.delta:+.2f} {self.reason}"


@dataclass(frozen=True, slots=True)
class ScoreUpdate:
    """One message's effect on the score."""

    before: float
    after: float
    stage_before: Stage
    stage: Stage
    contributions: tuple[Contribution, ...] = field(default=())

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 4)

    @property
    def explanation(self) -> list[str]:
        """Each contribution, e.g. ``["+0.23 intent purchase_intent (0.92)", …]``."""
        return [contribution.describe() for contribution in self.contributions]


def stage_of(score: float) -> Stage:
    """The stage of a score (``STAGE_FLOORS``)."""
    return next(stage for floor, stage in STAGE_FLOORS if score >= floor)


def _new_signals(signals: Signals, state: EngineState) -> list[Contribution]:
    found: list[Contribution] = []
    if signals.budget is not None and state.budget is None:
        found.append(Contribution(f"budget: {signals.budget.text}", SIGNAL_WEIGHTS["budget"]))
    if signals.timeline is not None and state.timeline is None:
        found.append(Contribution(f"timeline: {signals.timeline}", SIGNAL_WEIGHTS["timeline"]))
    if signals.urgent and not state.urgent:
        found.append(Contribution("urgency", SIGNAL_WEIGHTS["urgency"]))
    new_services = [s for s in signals.services if s not in state.services]
    if new_services:
        found.append(
            Contribution(f"named service: {', '.join(new_services)}", SIGNAL_WEIGHTS["service"])
        )
    if (signals.email and not state.email) or (signals.phone and not state.phone):
        given = [
            kind for kind, value in (("email", signals.email), ("phone", signals.phone)) if value
        ]
        found.append(
            Contribution(f"contact details: {', '.join(given)}", SIGNAL_WEIGHTS["contact"])
        )
    return found


def score_turn(
    state: EngineState,
    *,
    intent: str,
    confidence: float,
    signals: Signals,
    objections: Sequence[str] = (),
) -> ScoreUpdate:
    """The score after one message with ``intent`` (at ``confidence``), ``signals`` and the
    ``objections`` it raised, from the conversation's ``state`` (not modified)."""
    before = state.score
    contributions: list[Contribution] = []
    decayed = round(before * DECAY, 4)
    if decayed != before:
        contributions.append(Contribution("decay", decayed - before))
    weight = INTENT_WEIGHTS.get(intent, INTENT_WEIGHTS["other"])
    if objections and weight > 0:
        # "That's too expensive" reads as pricing; the objection is what it says.
        weight = 0.0
    if weight:
        scaled = round(weight * max(0.0, min(1.0, confidence)), 4)
        contributions.append(Contribution(f"intent {intent} ({confidence:.2f})", scaled))
    contributions.extend(_new_signals(signals, state))
    for objection in objections:
        if objection not in state.objections:
            contributions.append(
                Contribution(f"objection: {objection}", SIGNAL_WEIGHTS["objection"])
            )
    total = before + sum(c.delta for c in contributions)
    after = round(max(0.0, min(1.0, total)), 4)
    return ScoreUpdate(
        before=before,
        after=after,
        stage_before=state.stage,
        stage=stage_of(after),
        contributions=tuple(contributions),
    )


def apply(state: EngineState, update: ScoreUpdate, signals: Signals) -> None:
    """Record ``update`` and what ``signals`` told us in ``state``."""
    state.score = update.after
    state.stage = update.stage
    state.remember_services(signals.services)
    state.budget = signals.budget or state.budget
    state.timeline = signals.timeline or state.timeline
    state.urgent = state.urgent or signals.urgent
    state.email = signals.email or state.email
    state.phone = signals.phone or state.phone
    state.name = signals.name or state.name


assert [stage for _, stage in reversed(STAGE_FLOORS)] == list(STAGES)  # noqa: S101
