"""The grounded provider: offline and deterministic, it writes a ``Draft`` out of the pack.

Every sentence comes from the pack — its messages, calls to action, qualification questions,
objection answers, FAQs and service facts — filled with the company's details, in the draft's
language, with prices written the way ``format_price`` writes them. So its answers pass the
guard by construction, the same draft always gives the same text, and it needs nothing but the
pack: it is the default provider and the fallback of the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from frontdesk.engine.llm.base import ChatRequest, ChatResult, logger
from frontdesk.engine.llm.draft import CtaKind, Draft
from frontdesk.engine.llm.tools import check_calls
from frontdesk.engine.packs.schema import ContextPack, Service, Template
from frontdesk.engine.reply import QuickReply, ServiceCard
from frontdesk.engine.responder import display_phone, format_price, short_name

MAX_SERVICES: Final = 3

_PHRASES: Final[dict[str, dict[str, str]]] = {
    "hello": {"es": "¡Hola!", "en": "Hi!"},
    "price": {"es": "Precio", "en": "Price"},
    "time": {"es": "Tiempo estimado", "en": "Estimated time"},
    "handoff_reason": {
        "es": "el cliente pidió una persona",
        "en": "the customer asked for a person",
    },
}


def template_values(pack: ContextPack, language: str) -> dict[str, str]:
    """The values of the template placeholders (``{company}``, ``{whatsapp}``, ``{hours}`` …)."""
    company = pack.company
    return {
        "company": company.name,
        "city": company.city,
        "email": company.contact.email,
        "phone": display_phone(company.contact.phone),
        "whatsapp": display_phone(company.contact.whatsapp),
        "whatsapp_link": f"https://wa.me/{company.contact.whatsapp.removeprefix('+')}",
        "website": company.contact.website,
        "hours": company.hours.describe(language),
    }


def fill(template: Template, pack: ContextPack, language: str) -> str:
    """``template`` in ``language`` with its placeholders filled from the pack."""
    return pack.text(template, language).format_map(template_values(pack, language))


def service_card(pack: ContextPack, service: Service, language: str) -> ServiceCard:
    """A service as a card: name, summary and price range, in ``language``."""
    return ServiceCard(
        service_id=service.id,
        title=pack.text(service.name, language),
        summary=pack.text(service.summary, language),
        price_text=format_price(service.price, language),
    )


def service_cards(
    pack: ContextPack, service_ids: Sequence[str], language: str
) -> tuple[ServiceCard, ...]:
    """Cards for the pack's services among ``service_ids`` (unknown ids are skipped)."""
    known = {service.id: service for service in pack.services}
    return tuple(
        service_card(pack, known[service_id], language)
        for service_id in service_ids
        if service_id in known
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A draft written out: text, buttons, services to show and whether a person takes over."""

    text: str
    quick_replies: tuple[QuickReply, ...] = ()
    service_ids: tuple[str, ...] = ()
    handoff: bool = False


class _Writer:
    def __init__(self, pack: ContextPack, draft: Draft) -> None:
        self.pack = pack
        self.draft = draft
        self.lang = pack.resolve_language(draft.language)

    def phrase(self, key: str) -> str:
        return _PHRASES[key][self.lang]

    def text(self, template: Template) -> str:
        return fill(template, self.pack, self.lang)

    def cta_replies(self, kinds: Sequence[str]) -> tuple[QuickReply, ...]:
        replies = []
        for kind in kinds:
            cta = self.pack.strategies.cta(kind)
            if cta is not None:
                label = self.pack.text(cta.label, self.lang)
                replies.append(QuickReply(title=label, payload=f"cta:{cta.id}"))
        return tuple(replies)

    def service_replies(self) -> tuple[QuickReply, ...]:
        featured = [service for service in self.pack.services if service.featured]
        return tuple(
            QuickReply(
                title=short_name(self.pack.text(service.name, self.lang)),
                payload=f"service:{service.id}",
            )
            for service in (featured or list(self.pack.services))[:MAX_SERVICES]
        )

    def services(self) -> list[Service]:
        known = {service.id: service for service in self.pack.services}
        chosen = [known[i] for i in dict.fromkeys(self.draft.service_ids) if i in known]
        if len(chosen) < len(set(self.draft.service_ids)):
            logger().warning("llm.draft_unknown_service", pack=self.pack.id, kind=self.draft.kind)
        return chosen[:MAX_SERVICES]

    def question(self, services: Sequence[Service]) -> str | None:
        """The draft's qualification question, or the first not yet asked for ``services``."""
        questions = self.pack.strategies.qualification
        if self.draft.question_id is not None:
            chosen = next((q for q in questions if q.id == self.draft.question_id), None)
            return self.pack.text(chosen.question, self.lang) if chosen else None
        ids = {service.id for service in services}
        for question in questions:
            applies = not question.services or bool(ids & set(question.services))
            if applies and question.id not in self.draft.asked:
                return self.pack.text(question.question, self.lang)
        return None

    def follow_up(self, services: Sequence[Service]) -> str:
        if self.draft.cta is not None:
            cta = self.pack.strategies.cta(self.draft.cta)
            if cta is not None:
                return self.text(cta.text)
        return self.question(services) or self.text(self.pack.strategies.messages.next_step)

    def service_block(self, service: Service) -> str:
        pack, lang = self.pack, self.lang
        return "\n".join(
            (
                pack.text(service.name, lang),
                pack.text(service.summary, lang),
                f"{self.phrase('price')}: {format_price(service.price, lang)}.",
                f"{self.phrase('time')}: {pack.text(service.delivery_time, lang)}.",
            )
        )

    def greet(self, text: str) -> str:
        return f"{self.phrase('hello')} {text}" if self.draft.greeting else text

    def write(self) -> Written:
        kind = self.draft.kind
        messages = self.pack.strategies.messages
        if kind == "greet":
            return Written(
                self.text(messages.greeting),
                self.service_replies() + self.cta_replies(("advisor",)),
            )
        if kind == "answer_faq":
            return self.answer_faq()
        if kind == "recommend_services":
            return self.recommend()
        if kind == "ask_question":
            question = self.question(self.services()) or self.text(messages.next_step)
            return Written(self.greet(question), self.cta_replies(("consultation", "whatsapp")))
        if kind == "handle_objection":
            return self.objection()
        if kind == "call_to_action":
            return self.call_to_action(self.draft.cta or "consultation")
        if kind == "contact":
            return Written(
                self.greet(self.text(messages.contact)),
                self.cta_replies(("whatsapp", "consultation")),
            )
        if kind == "handoff":
            return Written(
                self.text(messages.handoff), self.cta_replies(("whatsapp",)), handoff=True
            )
        if kind == "goodbye":
            return Written(self.text(messages.closing))
        return self.fallback()

    def fallback(self) -> Written:
        return Written(
            self.text(self.pack.strategies.messages.fallback),
            self.service_replies() + self.cta_replies(("advisor",)),
        )

    def answer_faq(self) -> Written:
        assert self.draft.faq is not None  # noqa: S101 - the draft checks it
        service_id, index = self.draft.faq
        try:
            service = self.pack.service(service_id)
            faq = service.faqs[index] if index >= 0 else None
        except (KeyError, IndexError):
            faq = None
        if faq is None:
            logger().warning("llm.draft_unknown_faq", pack=self.pack.id)
            return self.fallback()
        answer = self.pack.text(faq.answer, self.lang)
        text = "\n\n".join((self.greet(answer), self.follow_up([service])))
        return Written(text, self.cta_replies(("consultation", "whatsapp", "quote")))

    def recommend(self) -> Written:
        services = self.services()
        if not services:
            return self.fallback()
        blocks = [self.service_block(service) for service in services]
        if self.draft.greeting:
            blocks.insert(0, self.phrase("hello"))
        blocks.append(self.follow_up(services))
        return Written(
            "\n\n".join(blocks),
            self.cta_replies(("consultation", "whatsapp", "quote")),
            service_ids=tuple(service.id for service in services),
        )

    def objection(self) -> Written:
        objection = next(
            (o for o in self.pack.strategies.objections if o.id == self.draft.objection_id), None
        )
        if objection is None:
            logger().warning("llm.draft_unknown_objection", pack=self.pack.id)
            return self.fallback()
        return Written(
            self.pack.text(objection.answer, self.lang),
            self.cta_replies(("consultation", "quote", "whatsapp")),
        )

    def call_to_action(self, kind: CtaKind) -> Written:
        messages = self.pack.strategies.messages
        if kind == "advisor":
            return Written(
                self.text(messages.handoff), self.cta_replies(("whatsapp",)), handoff=True
            )
        cta = self.pack.strategies.cta(kind)
        if cta is None:
            return Written(self.text(messages.next_step), self.cta_replies(("consultation",)))
        others = tuple(k for k in ("consultation", "whatsapp", "quote", "advisor") if k != kind)
        return Written(self.greet(self.text(cta.text)), self.cta_replies(others))


def write(draft: Draft, pack: ContextPack) -> Written:
    """``draft`` written out from ``pack`` (see ``Draft`` for what each kind says)."""
    return _Writer(pack, draft).write()


class GroundedProvider:
    """The offline provider: writes the request's draft from the pack; never fails.

    It proposes ``show_services`` for recommended services and ``handoff_to_human`` for a
    handoff, when the request offers those tools.
    """

    name = "grounded"

    async def chat(self, request: ChatRequest) -> ChatResult:
        """The draft of ``request`` written out (see ``write``)."""
        return self.answer(request)

    def answer(self, request: ChatRequest) -> ChatResult:
        """Synchronous form of ``chat``."""
        written = write(request.draft, request.pack)
        proposed: list[tuple[str, object, str | None]] = []
        if written.service_ids:
            proposed.append(("show_services", {"service_ids": list(written.service_ids)}, None))
        if written.handoff:
            reason = _PHRASES["handoff_reason"][request.pack.resolve_language(request.language)]
            proposed.append(("handoff_to_human", {"reason": reason}, None))
        offered = [
            (name, args, call_id) for name, args, call_id in proposed if name in request.tools
        ]
        accepted, rejected = check_calls(offered, pack=request.pack, allowed=request.tools)
        return ChatResult(
            text=written.text,
            provider=self.name,
            tool_calls=accepted,
            rejected_calls=rejected,
            quick_replies=written.quick_replies,
        )
