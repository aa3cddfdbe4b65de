"""The price and promise guard: a text may only state the pack's prices and promises.

``extract_amounts`` finds money amounts the way people write them in Colombia and in English —
``$1.200.000``, ``$ 2.500.000 COP``, ``1,2 millones``, ``1.5M``, ``800 mil``, ``2 millones de
pesos``, ``USD 300``, ``300 dólares``, ``US$1,125–4,500`` — and ``check`` compares every one
with the amounts the pack states: its services' price bounds in pesos and their dollar
equivalents, and any amount written in the pack's own prose. A bare number (``3 a 6 semanas``,
``100 productos``, a phone number) is not money: an amount needs a currency sign or word, or a
magnitude word (``mil``, ``millones``, ``M``, ``k``, ``million``); in a range (``USD 625–2,000``,
``1,2 a 4 millones``) the bounds share their currency and magnitude.

Percentages (``90%``, ``30 por ciento``) must appear in the pack's prose; so must promise words
(``gratis``, ``descuento``, ``reembolso``, ``free``, ``refund`` …) and the names of common
services and of named plans (``Plan Premium``). The last two are best effort: they catch an
assistant inventing a catalog, not every possible invention.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from frontdesk.engine.grounding.cache import PackCache
from frontdesk.engine.grounding.text import STOP_WORDS, fold
from frontdesk.engine.packs.schema import ContextPack, Localized

Currency = Literal["COP", "USD"]
ViolationKind = Literal["amount", "percentage", "promise", "service"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_MAX_TEXT: Final = 20_000

_NUMBER = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d+)?"
_MAGNITUDE = (
    r"mil\s+millones|millones|millón|millon|million(?:s)?|billion(?:s)?|thousand|mil"
    r"|(?-i:MM|M|k|K)"
)
_BEFORE = r"US\s?\$|U\.S\.\s?\$|USD|COP\s?\$|COP|CO\$|\$"
_AFTER = r"(?:de\s+)?(?:d[oó]lares|dollars?|USD|US\$|COP|pesos(?:\s+colombianos)?|col\$)"
_AMOUNT = re.compile(
    rf"(?P<before>(?:{_BEFORE})\s?)?"
    rf"(?P<number>{_NUMBER})"
    rf"(?:\s?(?P<magnitude>{_MAGNITUDE})(?![\wáéíóúñ]))?"
    rf"(?:\s?(?P<after>{_AFTER})(?![\wáéíóúñ]))?",
    re.IGNORECASE,
)
_RANGE_GAP = re.compile(r"^\s*(?:–|—|-|a|to|y|and|hasta|al)\s*$|^\s*(?:–|—|-)\s*$", re.IGNORECASE)
_PERCENT = re.compile(
    r"(?P<number>\d{1,3}(?:[.,]\d+)?)\s?(?:%|por\s?ciento|percent\b|per\s+cent\b)",
    re.IGNORECASE,
)

_MAGNITUDES: Final[dict[str, int]] = {
    "mil millones": 1_000_000_000,
    "millones": 1_000_000,
    "millón": 1_000_000,
    "millon": 1_000_000,
    "million": 1_000_000,
    "millions": 1_000_000,
    "billion": 1_000_000_000,
    "billions": 1_000_000_000,
    "thousand": 1_000,
    "mil": 1_000,
    "mm": 1_000_000,
    "m": 1_000_000,
    "k": 1_000,
}

PROMISE_WORDS: Final[frozenset[str]] = frozenset(
    _words(
        "gratis gratuito gratuita gratuitos gratuitas descuento descuentos rebaja rebajas "
        "promocion promociones reembolso reembolsos devolucion garantizado garantizada "
        "garantizamos garantia 2x1 regalo regalamos bonificacion obsequio free discount "
        "discounts refund refunds guarantee guaranteed guarantees promo promotion giveaway "
        "bonus complimentary"
    )
)
"""Words that promise something; allowed only when the pack's own prose uses them."""

SERVICE_TERMS: Final[tuple[str, ...]] = (
    "email marketing",
    "mailing",
    "fotografia",
    "photography",
    "produccion audiovisual",
    "video production",
    "animacion",
    "animation",
    "traduccion",
    "translation",
    "contabilidad",
    "accounting",
    "impresion",
    "printing",
    "merchandising",
    "influencers",
    "podcast",
    "realidad virtual",
    "virtual reality",
    "realidad aumentada",
    "augmented reality",
    "blockchain",
    "nft",
    "ciberseguridad",
    "cybersecurity",
    "servidores dedicados",
    "dedicated servers",
    "call center",
    "telemarketing",
    "community manager",
    "copywriting",
    "erp",
    "videojuegos",
    "video games",
)
"""Common services an assistant might invent; flagged when the pack never names them."""

_NAMED_PLAN = re.compile(
    r"\b(?i:plan|paquete|package|bundle|membres[ií]a|membership)\s+"
    r"(?P<after>[A-ZÁÉÍÓÚÑ][\wáéíóúñ]*(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ]*)*)"
    r"|\b(?P<before>[A-ZÁÉÍÓÚÑ][\wáéíóúñ]*)\s+(?i:plan|package|bundle)\b"
)
_COMMON: Final = STOP_WORDS["es"] | STOP_WORDS["en"] | {"nuestro", "nuestra", "este", "ese", "cada"}


@dataclass(frozen=True, slots=True)
class Amount:
    """A money amount found in a text; ``currency`` is ``None`` for a bare ``$`` or magnitude."""

    value: float
    currency: Currency | None
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Violation:
    """Something a text states that the pack does not."""

    kind: ViolationKind
    text: str
    detail: str


def parse_number(text: str) -> float:
    """A number written with thousands separators and a decimal mark, either convention.

    ``1.200.000`` and ``1,200,000`` are 1200000; ``1,2`` and ``1.2`` are 1.2; with both marks
    the last one is the decimal mark (``1.200,50``, ``1,200.50``); a lone mark followed by
    exactly three digits separates thousands (``1.500`` is 1500).
    """
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal = "." if text.rfind(".") > text.rfind(",") else ","
        thousands = "," if decimal == "." else "."
        return float(text.replace(thousands, "").replace(decimal, "."))
    mark = "." if dots else "," if commas else ""
    if not mark:
        return float(text)
    whole, _, tail = text.rpartition(mark)
    if text.count(mark) > 1 or len(tail) == 3:
        return float(text.replace(mark, ""))
    return float(f"{whole}.{tail}")


def _currency(before: str | None, after: str | None) -> Currency | None:
    for marker in (after, before):
        if not marker:
            continue
        folded = fold(marker)
        if "us" in folded.split() or folded.startswith(("usd", "dolar", "dollar", "u s")):
            return "USD"
        if "cop" in folded or "peso" in folded or folded.startswith("col"):
            return "COP"
    return None


@dataclass
class _Raw:
    number: float
    magnitude: int | None
    currency: Currency | None
    marked: bool
    start: int
    end: int


def _scan(text: str) -> list[_Raw]:
    found: list[_Raw] = []
    for match in _AMOUNT.finditer(text):
        before, after, magnitude = match["before"], match["after"], match["magnitude"]
        start = match.start("number") if before is None else match.start()
        end = match.end()
        if after is None and magnitude is None:
            end = match.end("number")
        found.append(
            _Raw(
                number=parse_number(match["number"]),
                magnitude=_MAGNITUDES[" ".join(magnitude.casefold().split())]
                if magnitude
                else None,
                currency=_currency(before, after),
                marked=bool(before or after),
                start=start,
                end=end,
            )
        )
    return found


def _link_ranges(text: str, raws: list[_Raw]) -> None:
    """Bounds of one range share currency and magnitude: ``USD 625–2,000``, ``1,2 a 4 millones``."""
    for first, second in itertools.pairwise(raws):
        if not _RANGE_GAP.match(text[first.end : second.start]):
            continue
        if first.magnitude is None and second.magnitude is not None and first.number < 1000:
            first.magnitude = second.magnitude
        if second.magnitude is None and first.magnitude is not None and second.number < 1000:
            second.magnitude = first.magnitude
        currency = first.currency or second.currency
        marked = first.marked or second.marked
        first.currency = second.currency = currency
        first.marked = second.marked = marked


def extract_amounts(text: str) -> list[Amount]:
    """Every money amount in ``text``, in order (see the module docstring for what counts)."""
    text = text[:_MAX_TEXT]
    raws = _scan(text)
    _link_ranges(text, raws)
    return [
        Amount(
            value=raw.number * (raw.magnitude or 1),
            currency=raw.currency,
            text=text[raw.start : raw.end],
            start=raw.start,
            end=raw.end,
        )
        for raw in raws
        if raw.marked or raw.magnitude is not None
    ]


def extract_percentages(text: str) -> list[tuple[float, str]]:
    """Every percentage in ``text`` with the words that state it."""
    return [
        (parse_number(match["number"]), match.group(0))
        for match in _PERCENT.finditer(text[:_MAX_TEXT])
    ]


@dataclass(frozen=True, slots=True)
class PackFacts:
    """What a pack states: amounts per currency, percentages and the words of its prose."""

    cop: frozenset[float]
    usd: frozenset[float]
    any_currency: frozenset[float]
    percentages: frozenset[float]
    words: frozenset[str]
    prose: str


def _localized(pack: ContextPack) -> Iterator[Localized]:
    company = pack.company
    yield from (company.description, company.pitch)
    for service in pack.services:
        yield from (service.name, service.summary, service.description, service.delivery_time)
        yield from service.includes
        for faq in service.faqs:
            yield from (faq.question, faq.answer)
    strategies = pack.strategies
    yield from (
        getattr(strategies.messages, name) for name in type(strategies.messages).model_fields
    )
    for question in strategies.qualification:
        yield question.question
    for objection in strategies.objections:
        yield objection.answer
    for cta in strategies.calls_to_action:
        yield from (cta.label, cta.text)


def pack_prose(pack: ContextPack) -> list[str]:
    """Everything the pack says to visitors (not the keywords and triggers they type)."""
    texts = [text for value in _localized(pack) for text in (value.es, value.en)]
    return [*texts, pack.company.name, pack.company.city]


def _facts(pack: ContextPack) -> PackFacts:
    prose = pack_prose(pack)
    cop = {float(v) for s in pack.services for v in (s.price.cop_min, s.price.cop_max)}
    usd = {float(v) for s in pack.services for v in (s.price.usd_min, s.price.usd_max)}
    unknown: set[float] = set()
    percentages: set[float] = set()
    for text in prose:
        for amount in extract_amounts(text):
            {"COP": cop, "USD": usd, None: unknown}[amount.currency].add(amount.value)
        percentages.update(value for value, _ in extract_percentages(text))
    folded = fold(" ".join(prose))
    # The pack's own "$300.000" is taken at its word in either currency.
    cop |= unknown
    usd |= unknown
    return PackFacts(
        cop=frozenset(cop),
        usd=frozenset(usd),
        any_currency=frozenset(cop | usd | unknown),
        percentages=frozenset(percentages),
        words=frozenset(folded.split()),
        prose=f" {folded} ",
    )


_FACTS: Final[PackCache[PackFacts]] = PackCache(_facts)


def facts(pack: ContextPack) -> PackFacts:
    """The pack's facts, computed once per pack."""
    return _FACTS.get(pack)


def _stated(value: float, allowed: Iterable[float]) -> bool:
    return any(abs(value - known) < 0.5 for known in allowed)


def _amount_allowed(amount: Amount, known: PackFacts) -> bool:
    if amount.currency == "COP":
        return _stated(amount.value, known.cop) or _stated(
            amount.value, known.any_currency - known.usd
        )
    if amount.currency == "USD":
        return _stated(amount.value, known.usd) or _stated(
            amount.value, known.any_currency - known.cop
        )
    return _stated(amount.value, known.any_currency)


def check(text: str, pack: ContextPack) -> list[Violation]:
    """Everything in ``text`` that ``pack`` does not state: amounts, percentages, promises,
    services. An empty list means the text is grounded as far as this guard can tell."""
    text = text[:_MAX_TEXT]
    known = facts(pack)
    violations: list[Violation] = []
    for amount in extract_amounts(text):
        if not _amount_allowed(amount, known):
            violations.append(
                Violation(
                    "amount", amount.text, f"{amount.value:,.0f} {amount.currency or ''}".strip()
                )
            )
    for value, written in extract_percentages(text):
        if value not in known.percentages:
            violations.append(Violation("percentage", written, f"{value:g}%"))
    folded = fold(text)
    for word in sorted(set(folded.split()) & PROMISE_WORDS - known.words):
        violations.append(Violation("promise", word, "a promise the pack does not make"))
    padded = f" {folded} "
    for term in SERVICE_TERMS:
        if f" {term} " in padded and f" {term} " not in known.prose:
            violations.append(Violation("service", term, "a service the pack does not offer"))
    for match in _NAMED_PLAN.finditer(text):
        name = fold(match["after"] or match["before"] or "")
        if name and name not in _COMMON and f" {name} " not in known.prose:
            violations.append(Violation("service", match.group(0), "a plan the pack does not name"))
    return violations
