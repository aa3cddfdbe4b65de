"""Grounding: retrieval over a tenant's context pack, and the guard that keeps answers to it."""

from frontdesk.engine.grounding.guard import (
    Amount,
    Violation,
    check,
    extract_amounts,
    extract_percentages,
    parse_number,
)
from frontdesk.engine.grounding.retrieval import (
    Hit,
    HitKind,
    PackIndex,
    Retriever,
    faq_id,
    faq_of,
    retriever,
    search,
)

__all__ = [
    "Amount",
    "Hit",
    "HitKind",
    "PackIndex",
    "Retriever",
    "Violation",
    "check",
    "extract_amounts",
    "extract_percentages",
    "faq_id",
    "faq_of",
    "parse_number",
    "retriever",
    "search",
]
