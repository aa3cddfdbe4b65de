"""``Draft``: what an agent decided to say, in pack ids, before anyone phrases it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from frontdesk.engine.packs.schema import LanguageCode

DraftKind = Literal[
    "greet",
    "answer_faq",
    "recommend_services",
    "ask_question",
    "handle_objection",
    "call_to_action",
    "contact",
    "handoff",
    "goodbye",
    "fallback",
]
DRAFT_KINDS: tuple[DraftKind, ...] = get_args(DraftKind)

CtaKind = Literal["consultation", "whatsapp", "quote", "advisor"]


@dataclass(frozen=True, slots=True)
class Draft:
    """The structured answer an agent fills; the grounded provider turns it into text.

    * ``greet``: the pack's greeting (with the featured services as buttons).
    * ``answer_faq``: the FAQ ``faq`` — ``(service id, index)`` — answered, then ``follow_up``.
    * ``recommend_services``: ``service_ids`` (at most three) with their prices, then a
      qualification question or ``cta``.
    * ``ask_question``: the qualification question ``question_id`` (the next unasked one for
      ``service_ids`` when ``None``).
    * ``handle_objection``: the pack's answer to ``objection_id``.
    * ``call_to_action``: the pack's call to action of kind ``cta``.
    * ``contact``, ``handoff``, ``goodbye``, ``fallback``: the pack's messages.

    ``asked`` lists the qualification questions already asked in this conversation, so none is
    asked twice; ``greeting`` prefixes a short hello.
    """

    kind: DraftKind
    language: LanguageCode
    service_ids: tuple[str, ...] = ()
    faq: tuple[str, int] | None = None
    objection_id: str | None = None
    question_id: str | None = None
    cta: CtaKind | None = None
    asked: tuple[str, ...] = ()
    greeting: bool = False

    def __post_init__(self) -> None:
        if self.kind not in DRAFT_KINDS:
            raise ValueError(f"unknown draft kind {self.kind!r}")
        if self.kind == "answer_faq" and self.faq is None:
            raise ValueError("an answer_faq draft needs its faq")
        if self.kind == "handle_objection" and self.objection_id is None:
            raise ValueError("a handle_objection draft needs its objection_id")
        if self.kind == "recommend_services" and not self.service_ids:
            raise ValueError("a recommend_services draft needs service_ids")
