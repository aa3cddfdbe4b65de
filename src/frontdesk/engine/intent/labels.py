"""The intents a visitor message is classified into."""

from __future__ import annotations

from typing import Final

PURCHASE_INTENT: Final = "purchase_intent"
PRICING: Final = "pricing"
PRODUCT_INFO: Final = "product_info"
SCHEDULE: Final = "schedule"
HUMAN_HANDOFF: Final = "human_handoff"
SUPPORT: Final = "support"
GREETING: Final = "greeting"
GOODBYE_THANKS: Final = "goodbye_thanks"
OTHER: Final = "other"

LABELS: Final[tuple[str, ...]] = (
    PURCHASE_INTENT,
    PRICING,
    PRODUCT_INFO,
    SCHEDULE,
    HUMAN_HANDOFF,
    SUPPORT,
    GREETING,
    GOODBYE_THANKS,
    OTHER,
)
"""Every label, in the order of the model's score columns."""

DESCRIPTIONS: Final[dict[str, str]] = {
    PURCHASE_INTENT: "wants to buy, hire, order or sign up",
    PRICING: "price, quote, cost, plans, payment methods",
    PRODUCT_INFO: "what is offered, features, how it works",
    SCHEDULE: "meeting, call, demo, appointment",
    HUMAN_HANDOFF: "asks for a person",
    SUPPORT: "problem with an existing order or service, complaint, cancel, refund",
    GREETING: "a greeting and nothing else",
    GOODBYE_THANKS: "thanks, goodbye, a closing acknowledgement",
    OTHER: "anything else: chatter, spam, out of domain, or too unsure to say",
}

LANGUAGES: Final[tuple[str, ...]] = ("es", "en")
