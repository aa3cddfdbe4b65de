"""The first responder: answers web chat messages from the tenant's context pack, by keywords."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from frontdesk.engine.language import KNOWN_WORDS, language_scores
from frontdesk.engine.packs.schema import (
    CallToAction,
    ContextPack,
    Localized,
    Objection,
    Price,
    Service,
    Template,
)
from frontdesk.engine.reply import QuickReply, Reply, ServiceCard


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation."""

    role: str
    text: str

    def __post_init__(self) -> None:
        if self.role not in ("visitor", "assistant"):
            raise ValueError(f"role must be 'visitor' or 'assistant', not {self.role!r}")


@runtime_checkable
class Responder(Protocol):
    """Anything that turns a visitor message into a reply."""

    async def respond(
        self,
        *,
        pack: ContextPack,
        text: str,
        history: Sequence[Turn],
        language: str | None = None,
    ) -> Reply:
        """Answer ``text`` given the tenant's ``pack`` and the earlier ``history``."""
        ...


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_STOPWORDS: Final[frozenset[str]] = frozenset(
    _words(
        "el la los las lo le les un una unos unas de del al a en y e o u para por con mi mis "
        "tu tus su sus the an of to for in on and or my your our with at is are be this that it"
    )
)

_SHORT_MESSAGE_TOKENS: Final = 2
_CONFIDENT_MARGIN: Final = 2.0
_FUZZY_MIN_LENGTH: Final = 5
_FUZZY_QUALITY: Final = 0.75
_MAX_GAP: Final = 2
_MAX_SERVICES: Final = 3
_SECONDARY_RATIO: Final = 0.5
_SECONDARY_MIN_SCORE: Final = 0.9
_HISTORY_TURNS: Final = 6
_CONTEXT_VISITOR_TURNS: Final = 3
_CACHE_SIZE: Final = 32
_MAX_TEXT_CHARS: Final = 1000

_PAYLOAD = re.compile(r"^(service|cta|intent):([a-z0-9]+(?:-[a-z0-9]+)*)$")

GREETING: Final = "greeting"
PRICING: Final = "pricing"
PURCHASE: Final = "purchase"
SCHEDULE: Final = "schedule"
HUMAN: Final = "human"
THANKS: Final = "thanks"
ACK: Final = "ack"
CATALOG: Final = "catalog"
CONTACT: Final = "contact"
SERVICE: Final = "service"
OBJECTION: Final = "objection"
CTA: Final = "cta"
FALLBACK: Final = "fallback"

_INTENT_KEYWORDS: Final[dict[str, tuple[str, ...]]] = {
    GREETING: (
        "hola",
        "ola",
        "holi",
        "buenas",
        "buenos dias",
        "buen dia",
        "buenas tardes",
        "buenas noches",
        "saludos",
        "que mas",
        "q mas",
        "quiubo",
        "quihubo",
        "alo",
        "hi",
        "hello",
        "hey",
        "hi there",
        "good morning",
        "good afternoon",
        "good evening",
        "howdy",
    ),
    PRICING: (
        "precio",
        "precios",
        "presio",
        "cuanto",
        "kuanto",
        "cuanto cuesta",
        "cuanto vale",
        "cuanto sale",
        "cuanto cobran",
        "cuesta",
        "cuestan",
        "valor",
        "costo",
        "costos",
        "cotizacion",
        "cotizar",
        "cotizame",
        "tarifa",
        "tarifas",
        "presupuesto",
        "how much",
        "price",
        "prices",
        "pricing",
        "cost",
        "costs",
        "quote",
        "quotation",
        "rates",
        "fee",
        "fees",
        "budget",
    ),
    PURCHASE: (
        "quiero",
        "kiero",
        "quisiera",
        "necesito",
        "nesecito",
        "necesitamos",
        "me interesa",
        "interesado",
        "interesada",
        "contratar",
        "comprar",
        "adquirir",
        "busco",
        "buscando",
        "requiero",
        "want",
        "wanna",
        "need",
        "would like",
        "hire",
        "buy",
        "purchase",
        "looking for",
        "interested",
    ),
    SCHEDULE: (
        "agendar",
        "agenda",
        "agendemos",
        "cita",
        "reunion",
        "reunirnos",
        "videollamada",
        "llamada",
        "asesoria",
        "consultoria",
        "meeting",
        "meet",
        "schedule",
        "book",
        "booking",
        "appointment",
        "video call",
        "consultation",
        "zoom",
    ),
    HUMAN: (
        "asesor",
        "asesora",
        "humano",
        "humana",
        "persona real",
        "hablar con una persona",
        "hablar con alguien",
        "comunicarme con alguien",
        "agente humano",
        "hablar con un agente",
        "agente",
        "agent",
        "ejecutivo",
        "ejecutiva",
        "vendedor",
        "operador",
        "que me llamen",
        "me pueden llamar",
        "llamenme",
        "llamame",
        "human",
        "real person",
        "talk to a person",
        "talk to someone",
        "speak to someone",
        "speak with someone",
        "representative",
        "sales rep",
        "live agent",
        "human agent",
        "talk to an agent",
        "speak to an agent",
        "call me",
        "operator",
    ),
    THANKS: (
        "gracias",
        "muchas gracias",
        "mil gracias",
        "chao",
        "chau",
        "adios",
        "hasta luego",
        "nos vemos",
        "bendiciones",
        "thanks",
        "thank you",
        "thx",
        "ty",
        "bye",
        "goodbye",
        "see you",
        "cheers",
    ),
    ACK: (
        "ok",
        "okay",
        "oki",
        "vale",
        "listo",
        "dale",
        "perfecto",
        "bueno",
        "entiendo",
        "entendido",
        "claro",
        "si",
        "sure",
        "great",
        "got it",
        "alright",
        "sounds good",
        "cool",
        "perfect",
        "fine",
        "yes",
    ),
    CATALOG: (
        "servicios",
        "que hacen",
        "que ofrecen",
        "a que se dedican",
        "portafolio",
        "services",
        "what do you do",
        "what do you offer",
    ),
    CONTACT: (
        "donde estan",
        "donde quedan",
        "ubicacion",
        "ubicados",
        "direccion",
        "oficina",
        "horario",
        "horarios",
        "a que hora",
        "atienden",
        "telefono",
        "numero",
        "celular",
        "whatsapp",
        "correo",
        "email",
        "mail",
        "contacto",
        "contactarlos",
        "otras ciudades",
        "otra ciudad",
        "fuera de",
        "todo el pais",
        "exterior",
        "remoto",
        "other cities",
        "outside",
        "abroad",
        "remote",
        "remotely",
        "where are you",
        "location",
        "located",
        "address",
        "office",
        "hours",
        "opening hours",
        "phone",
        "phone number",
        "contact",
    ),
}

_PHRASES: Final[dict[str, dict[str, str]]] = {
    "hello": {"es": "¡Hola!", "en": "Hi!"},
    "price": {"es": "Precio", "en": "Price"},
    "time": {"es": "Tiempo estimado", "en": "Estimated time"},
    "from": {"es": "desde", "en": "from"},
}

_PERIOD: Final[dict[str, dict[str, str]]] = {
    "es": {"one_time": "", "monthly": "/mes", "yearly": "/año"},
    "en": {"one_time": "", "monthly": " per month", "yearly": " per year"},
}


def normalize(text: str) -> str:
    """Lowercase ``text``, strip accents and turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(token for token in normalize(text).split() if token not in _STOPWORDS)


def _forms(token: str) -> frozenset[str]:
    forms = {token}
    if token.endswith("ciones"):
        forms.add(token[:-2])
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        forms.add(token[:-1])
        if token.endswith("es") and len(token) > 4:
            forms.add(token[:-2])
    return frozenset(forms)


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    forms: frozenset[str]
    known: bool


@dataclass(frozen=True, slots=True)
class _Phrase:
    tokens: tuple[str, ...]
    forms: tuple[frozenset[str], ...]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class _Match:
    score: float
    positions: frozenset[int]


def _phrase(text: str) -> _Phrase | None:
    tokens = _tokens(text)
    if not tokens:
        return None
    return _Phrase(
        tokens=tokens, forms=tuple(_forms(token) for token in tokens), weight=len(tokens) ** 2
    )


def _phrases(texts: Iterable[str]) -> tuple[_Phrase, ...]:
    unique: dict[tuple[str, ...], _Phrase] = {}
    for text in texts:
        phrase = _phrase(text)
        if phrase is not None:
            unique.setdefault(phrase.tokens, phrase)
    return tuple(unique.values())


def _token_quality(token: _Token, keyword: str, keyword_forms: frozenset[str]) -> float:
    if token.forms & keyword_forms:
        return 1.0
    if (
        not token.known
        and len(token.text) >= _FUZZY_MIN_LENGTH
        and len(keyword) >= _FUZZY_MIN_LENGTH
        and token.text[0] == keyword[0]
        and _within_one_edit(token.text, keyword)
    ):
        return _FUZZY_QUALITY
    return 0.0


def _match_phrase(message: Sequence[_Token], phrase: _Phrase) -> _Match | None:
    best: _Match | None = None
    size = len(phrase.tokens)
    for start, token in enumerate(message):
        quality = _token_quality(token, phrase.tokens[0], phrase.forms[0])
        if not quality:
            continue
        positions = [start]
        last = start
        gaps = 0
        for keyword, forms in zip(phrase.tokens[1:], phrase.forms[1:], strict=True):
            found = None
            for position in range(last + 1, min(len(message), last + 2 + _MAX_GAP - gaps)):
                step = _token_quality(message[position], keyword, forms)
                if step:
                    found = position
                    quality = min(quality, step)
                    break
            if found is None:
                break
            gaps += found - last - 1
            positions.append(found)
            last = found
        if len(positions) == size:
            match = _Match(score=quality * phrase.weight, positions=frozenset(positions))
            if best is None or match.score > best.score:
                best = match
    return best


def _match_all(message: Sequence[_Token], phrases: Sequence[_Phrase]) -> _Match | None:
    score = 0.0
    positions: set[int] = set()
    for phrase in phrases:
        match = _match_phrase(message, phrase)
        if match is not None:
            score += match.score
            positions |= match.positions
    if not score:
        return None
    return _Match(score=score, positions=frozenset(positions))


@dataclass(frozen=True, slots=True)
class _Index:
    services: tuple[tuple[Service, tuple[_Phrase, ...]], ...]
    objections: tuple[tuple[Objection, tuple[_Phrase, ...]], ...]
    vocabulary: frozenset[str]


_INTENT_PHRASES: Final[dict[str, tuple[_Phrase, ...]]] = {
    intent: _phrases(keywords) for intent, keywords in _INTENT_KEYWORDS.items()
}


def _vocabulary(groups: Iterable[Iterable[_Phrase]]) -> frozenset[str]:
    words: set[str] = set(KNOWN_WORDS)
    for group in groups:
        for phrase in group:
            for forms in phrase.forms:
                words |= forms
    return frozenset(words)


def _specific(groups: Sequence[tuple[_Phrase, ...]]) -> list[tuple[_Phrase, ...]]:
    """Weigh each phrase by its length and by how few groups share its words."""
    group_forms = [
        frozenset(form for phrase in group for forms in phrase.forms for form in forms)
        for group in groups
    ]

    def rarity(forms: frozenset[str]) -> float:
        shared = sum(1 for known in group_forms if forms & known)
        return 1.0 / math.sqrt(max(shared, 1))

    return [
        tuple(
            _Phrase(
                tokens=phrase.tokens,
                forms=phrase.forms,
                weight=len(phrase.tokens) * sum(rarity(forms) for forms in phrase.forms),
            )
            for phrase in group
        )
        for group in groups
    ]


def _build_index(pack: ContextPack) -> _Index:
    weighted = _specific([_phrases(service.keywords.all()) for service in pack.services])
    services = tuple(zip(pack.services, weighted, strict=True))
    objections = tuple(
        (objection, _phrases(objection.triggers.all())) for objection in pack.strategies.objections
    )
    vocabulary = _vocabulary([*(phrases for _, phrases in objections), *_INTENT_PHRASES.values()])
    return _Index(services=services, objections=objections, vocabulary=vocabulary)


def _group_digits(value: int, separator: str) -> str:
    return f"{value:,}".replace(",", separator)


def format_price(price: Price, lang: str) -> str:
    """The price range the Colombian way in Spanish, or in English.

    ``desde $4.500.000 hasta $18.000.000 COP (aprox. USD 1,125–4,500)`` /
    ``from COP 4,500,000 to COP 18,000,000 (about USD 1,125–4,500)``; monthly and yearly prices
    carry ``/mes``, ``/año``, ``per month`` or ``per year``.
    """
    english = lang == "en"
    period = _PERIOD["en" if english else "es"][price.billing]
    usd = (
        f"USD {price.usd_min:,}"
        if price.usd_min == price.usd_max
        else f"USD {price.usd_min:,}–{price.usd_max:,}"
    )
    if english:
        low, high = f"COP {price.cop_min:,}", f"COP {price.cop_max:,}"
        cop = low if price.cop_min == price.cop_max else f"from {low} to {high}"
        return f"{cop}{period} (about {usd}{period})"
    low, high = f"${_group_digits(price.cop_min, '.')}", f"${_group_digits(price.cop_max, '.')}"
    cop = f"{low} COP" if price.cop_min == price.cop_max else f"desde {low} hasta {high} COP"
    return f"{cop}{period} (aprox. {usd}{period})"


def format_starting_price(price: Price, lang: str) -> str:
    """The lowest price, e.g. ``desde $1.200.000 COP/mes`` or ``from COP 1,200,000 per month``."""
    english = lang == "en"
    period = _PERIOD["en" if english else "es"][price.billing]
    if english:
        return f"from COP {price.cop_min:,}{period}"
    return f"desde ${_group_digits(price.cop_min, '.')} COP{period}"


def display_phone(number: str) -> str:
    """An E.164 number made readable; Colombian numbers as ``+57 300 123 4567``."""
    digits = number.removeprefix("+")
    if digits.startswith("57") and len(digits) == 12:
        return f"+57 {digits[2:5]} {digits[5:8]} {digits[8:]}"
    return number


def short_name(name: str) -> str:
    """``name`` without its trailing parenthesis, for buttons.

    ``Tienda virtual (e-commerce)`` becomes ``Tienda virtual``.
    """
    head = name.split(" (", 1)[0].strip()
    return head or name


@dataclass(frozen=True, slots=True)
class _Understanding:
    intents: frozenset[str]
    services: tuple[Service, ...]
    objection: Objection | None


class FirstResponder:
    """Keyword-based responder that only says what the context pack says.

    It detects the language (falling back to the conversation's, then the pack's), matches
    services by their keywords in both languages and recognises coarse intents. A human
    request hands off; an objection gets the pack's answer; matched services get their name,
    summary, price range and delivery time plus a qualification question or a call to action;
    pricing without a service lists the featured services; greetings, thanks and unknown
    messages get the pack's messages. Quick reply payloads (``service:<id>``, ``cta:<id>``,
    ``intent:<name>``) are understood as such. The same input always gives the same reply.
    """

    def __init__(self) -> None:
        self._indexes: OrderedDict[ContextPack, _Index] = OrderedDict()

    async def respond(
        self,
        *,
        pack: ContextPack,
        text: str,
        history: Sequence[Turn],
        language: str | None = None,
    ) -> Reply:
        """Answer ``text`` from ``pack``, as described in the class docstring."""
        return self.reply(pack=pack, text=text, history=history, language=language)

    def reply(
        self,
        *,
        pack: ContextPack,
        text: str,
        history: Sequence[Turn] = (),
        language: str | None = None,
    ) -> Reply:
        """Synchronous form of ``respond``."""
        index = self._index(pack)
        payload = _PAYLOAD.match(text.strip())
        lang = self._language(pack, "" if payload else text, history, language)
        if payload is not None:
            answer = self._payload(pack, index, lang, history, payload[1], payload[2])
            if answer is not None:
                return answer
        understanding = self._understand(index, text)
        return self._answer(pack, index, lang, understanding, history)

    def _index(self, pack: ContextPack) -> _Index:
        index = self._indexes.get(pack)
        if index is None:
            index = _build_index(pack)
            self._indexes[pack] = index
            while len(self._indexes) > _CACHE_SIZE:
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(pack)
        return index

    def _language(
        self, pack: ContextPack, text: str, history: Sequence[Turn], language: str | None
    ) -> str:
        if language:
            return pack.resolve_language(language)
        spanish, english = language_scores(text[:_MAX_TEXT_CHARS])
        margin = abs(spanish - english)
        guess = None if not margin else ("es" if spanish > english else "en")
        long_enough = len(normalize(text[:_MAX_TEXT_CHARS]).split()) > _SHORT_MESSAGE_TOKENS
        if guess is not None and (margin >= _CONFIDENT_MARGIN or long_enough):
            return pack.resolve_language(guess)
        remembered = _history_language(history)
        return pack.resolve_language(remembered or guess)

    def _understand(self, index: _Index, text: str) -> _Understanding:
        message = tuple(
            _Token(text=token, forms=_forms(token), known=token in index.vocabulary)
            for token in _tokens(text[:_MAX_TEXT_CHARS])
        )
        services, covered = _rank_services(index, message)
        intents: set[str] = set()
        for intent, phrases in _INTENT_PHRASES.items():
            match = _match_all(message, phrases)
            if match is None:
                continue
            if intent == HUMAN and match.positions <= covered:
                continue
            intents.add(intent)
        return _Understanding(
            intents=frozenset(intents),
            services=services,
            objection=_best_objection(index, message),
        )

    def _answer(
        self,
        pack: ContextPack,
        index: _Index,
        lang: str,
        understanding: _Understanding,
        history: Sequence[Turn],
    ) -> Reply:
        intents = understanding.intents
        if HUMAN in intents:
            return _handoff(pack, lang)
        if understanding.objection is not None:
            return _objection(pack, lang, understanding.objection)
        services = understanding.services
        if not services and intents & {PRICING, PURCHASE}:
            services = self._services_from_history(index, history)
        if services:
            return _service_answer(pack, lang, services, intents, history)
        if CONTACT in intents:
            return _reply(
                pack,
                lang,
                CONTACT,
                _fill(pack.strategies.messages.contact, pack, lang),
                _cta_replies(pack, lang, ("whatsapp", "consultation")),
            )
        if SCHEDULE in intents:
            return _cta_answer(pack, lang, "consultation")
        if intents & {PRICING, PURCHASE, CATALOG}:
            intent = next(i for i in (PRICING, PURCHASE, CATALOG) if i in intents)
            return _overview(pack, lang, intent, greet=GREETING in intents)
        if GREETING in intents:
            return _reply(
                pack,
                lang,
                GREETING,
                _fill(pack.strategies.messages.greeting, pack, lang),
                _service_replies(pack, lang) + _cta_replies(pack, lang, ("advisor",)),
            )
        if THANKS in intents:
            return _reply(
                pack, lang, THANKS, _fill(pack.strategies.messages.closing, pack, lang), ()
            )
        if ACK in intents:
            return _reply(
                pack,
                lang,
                ACK,
                _fill(pack.strategies.messages.next_step, pack, lang),
                _cta_replies(pack, lang, ("consultation", "quote", "whatsapp")),
            )
        return _reply(
            pack,
            lang,
            FALLBACK,
            _fill(pack.strategies.messages.fallback, pack, lang),
            _service_replies(pack, lang) + _cta_replies(pack, lang, ("advisor",)),
        )

    def _services_from_history(self, index: _Index, history: Sequence[Turn]) -> tuple[Service, ...]:
        visitor = [turn for turn in history[-_HISTORY_TURNS:] if turn.role == "visitor"]
        for turn in reversed(visitor[-_CONTEXT_VISITOR_TURNS:]):
            understanding = self._understand(index, turn.text)
            if understanding.services:
                return understanding.services[:1]
        return ()

    def _payload(
        self,
        pack: ContextPack,
        index: _Index,
        lang: str,
        history: Sequence[Turn],
        kind: str,
        value: str,
    ) -> Reply | None:
        if kind == "service":
            try:
                service = pack.service(value)
            except KeyError:
                return None
            return _service_answer(pack, lang, (service,), frozenset(), history)
        if kind == "cta":
            cta = next((c for c in pack.strategies.calls_to_action if c.id == value), None)
            if cta is None:
                return None
            if cta.kind == "advisor":
                return _handoff(pack, lang)
            return _cta_answer(pack, lang, cta.kind)
        if value in _INTENT_KEYWORDS:
            understanding = _Understanding(intents=frozenset({value}), services=(), objection=None)
            return self._answer(pack, index, lang, understanding, history)
        return None


def _history_language(history: Sequence[Turn]) -> str | None:
    recent = list(history[-_HISTORY_TURNS:])
    for role in ("visitor", "assistant"):
        for turn in reversed(recent):
            if turn.role != role:
                continue
            spanish, english = language_scores(turn.text[:_MAX_TEXT_CHARS])
            if spanish != english:
                return "es" if spanish > english else "en"
    return None


def _rank_services(
    index: _Index, message: Sequence[_Token]
) -> tuple[tuple[Service, ...], frozenset[int]]:
    """The best matching services (most relevant first) and the message positions they cover."""
    scored: list[tuple[float, int, Service, frozenset[int]]] = []
    for order, (service, phrases) in enumerate(index.services):
        match = _match_all(message, phrases)
        if match is not None:
            scored.append((match.score, order, service, match.positions))
    if not scored:
        return (), frozenset()
    scored.sort(key=lambda item: (-item[0], item[1]))
    best_score, _, best, covered = scored[0]
    chosen = [best]
    covered_positions = set(covered)
    for score, _, service, positions in scored[1:]:
        if len(chosen) == _MAX_SERVICES:
            break
        relevant = score >= best_score * _SECONDARY_RATIO or score >= _SECONDARY_MIN_SCORE
        if relevant and not positions <= covered_positions:
            chosen.append(service)
            covered_positions |= positions
    return tuple(chosen), frozenset(covered_positions)


def _best_objection(index: _Index, message: Sequence[_Token]) -> Objection | None:
    best: tuple[float, Objection] | None = None
    for objection, phrases in index.objections:
        match = _match_all(message, phrases)
        if match is not None and (best is None or match.score > best[0]):
            best = (match.score, objection)
    return best[1] if best else None


def _template_values(pack: ContextPack, lang: str) -> dict[str, str]:
    company = pack.company
    whatsapp_digits = company.contact.whatsapp.removeprefix("+")
    return {
        "company": company.name,
        "city": company.city,
        "email": company.contact.email,
        "phone": display_phone(company.contact.phone),
        "whatsapp": display_phone(company.contact.whatsapp),
        "whatsapp_link": f"https://wa.me/{whatsapp_digits}",
        "website": company.contact.website,
        "hours": company.hours.describe(lang),
    }


def _fill(template: Template, pack: ContextPack, lang: str) -> str:
    return pack.text(template, lang).format_map(_template_values(pack, lang))


def _text(pack: ContextPack, value: Localized, lang: str) -> str:
    return pack.text(value, lang)


def _reply(
    pack: ContextPack,
    lang: str,
    intent: str,
    text: str,
    quick_replies: Sequence[QuickReply],
    *,
    cards: Sequence[ServiceCard] = (),
    handoff: bool = False,
) -> Reply:
    return Reply(
        text=text,
        language=pack.resolve_language(lang),
        intent=intent,
        quick_replies=tuple(quick_replies),
        cards=tuple(cards),
        handoff=handoff,
    )


def _cta_replies(pack: ContextPack, lang: str, kinds: Sequence[str]) -> tuple[QuickReply, ...]:
    replies: list[QuickReply] = []
    for kind in kinds:
        cta = pack.strategies.cta(kind)
        if cta is not None:
            replies.append(QuickReply(title=_text(pack, cta.label, lang), payload=f"cta:{cta.id}"))
    return tuple(replies)


def _featured(pack: ContextPack) -> tuple[Service, ...]:
    featured = tuple(service for service in pack.services if service.featured)
    return featured or pack.services


def _service_replies(pack: ContextPack, lang: str, limit: int = 3) -> tuple[QuickReply, ...]:
    return tuple(
        QuickReply(
            title=short_name(_text(pack, service.name, lang)), payload=f"service:{service.id}"
        )
        for service in _featured(pack)[:limit]
    )


def _card(pack: ContextPack, service: Service, lang: str) -> ServiceCard:
    return ServiceCard(
        service_id=service.id,
        title=_text(pack, service.name, lang),
        summary=_text(pack, service.summary, lang),
        price_text=format_price(service.price, lang),
    )


def _service_block(pack: ContextPack, service: Service, lang: str) -> str:
    language = pack.resolve_language(lang)
    return "\n".join(
        (
            _text(pack, service.name, lang),
            _text(pack, service.summary, lang),
            f"{_PHRASES['price'][language]}: {format_price(service.price, language)}.",
            f"{_PHRASES['time'][language]}: {_text(pack, service.delivery_time, lang)}.",
        )
    )


def _asked(history: Sequence[Turn], text: str) -> bool:
    return any(turn.role == "assistant" and text in turn.text for turn in history)


def _follow_up(
    pack: ContextPack,
    lang: str,
    service: Service,
    intents: frozenset[str],
    history: Sequence[Turn],
) -> str:
    strategies = pack.strategies
    questions = [
        _text(pack, question.question, lang)
        for question in strategies.qualification
        if not question.services or service.id in question.services
    ]
    unasked = [question for question in questions if not _asked(history, question)]
    engaged = len(unasked) < len(questions)
    if SCHEDULE in intents or (PURCHASE in intents and engaged):
        cta = strategies.cta("consultation")
        if cta is not None:
            return _fill(cta.text, pack, lang)
    if unasked:
        return unasked[0]
    return _fill(strategies.messages.next_step, pack, lang)


def _service_answer(
    pack: ContextPack,
    lang: str,
    services: Sequence[Service],
    intents: frozenset[str],
    history: Sequence[Turn],
) -> Reply:
    language = pack.resolve_language(lang)
    blocks = [_service_block(pack, service, language) for service in services]
    if GREETING in intents:
        blocks.insert(0, _PHRASES["hello"][language])
    blocks.append(_follow_up(pack, language, services[0], intents, history))
    intent = next((i for i in (PRICING, PURCHASE) if i in intents), SERVICE)
    return _reply(
        pack,
        language,
        intent,
        "\n\n".join(blocks),
        _cta_replies(pack, language, ("consultation", "whatsapp", "quote")),
        cards=[_card(pack, service, language) for service in services],
    )


def _overview(pack: ContextPack, lang: str, intent: str, *, greet: bool) -> Reply:
    language = pack.resolve_language(lang)
    messages = pack.strategies.messages
    lines = [
        f"• {_text(pack, service.name, language)}: {format_starting_price(service.price, language)}"
        for service in _featured(pack)
    ]
    intro = _fill(messages.pricing_intro, pack, language)
    if greet:
        intro = f"{_PHRASES['hello'][language]} {intro}"
    text = "\n\n".join((intro, "\n".join(lines), _fill(messages.pricing_question, pack, language)))
    return _reply(pack, language, intent, text, _service_replies(pack, language))


def _handoff(pack: ContextPack, lang: str) -> Reply:
    return _reply(
        pack,
        lang,
        HUMAN,
        _fill(pack.strategies.messages.handoff, pack, lang),
        _cta_replies(pack, lang, ("whatsapp",)),
        handoff=True,
    )


def _objection(pack: ContextPack, lang: str, objection: Objection) -> Reply:
    return _reply(
        pack,
        lang,
        OBJECTION,
        _text(pack, objection.answer, lang),
        _cta_replies(pack, lang, ("consultation", "quote", "whatsapp")),
    )


def _cta_answer(pack: ContextPack, lang: str, kind: str) -> Reply:
    cta: CallToAction | None = pack.strategies.cta(kind)
    if cta is None:
        return _reply(
            pack, lang, FALLBACK, _fill(pack.strategies.messages.next_step, pack, lang), ()
        )
    others = tuple(k for k in ("consultation", "whatsapp", "quote", "advisor") if k != kind)
    intent = SCHEDULE if kind == "consultation" else CTA
    return _reply(pack, lang, intent, _fill(cta.text, pack, lang), _cta_replies(pack, lang, others))
