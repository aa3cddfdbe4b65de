"""Spanish or English, for messages as short as one word.

Two kinds of evidence add up: the marker words and Spanish characters of
:mod:`frontdesk.engine.language` (reliable on the words it knows), and the intent model's language
column (character n-grams learned from every training message, so it also knows typos and words
no list has). With no evidence either way the answer is Spanish, the first language of the
product's customers.
"""

from __future__ import annotations

from typing import Final

from frontdesk.engine.language import language_scores

MODEL_WEIGHT: Final = 1.0
DEFAULT: Final = "es"


def detect_language(text: str, *, model_logit: float | None = None, default: str = DEFAULT) -> str:
    """``"es"`` or ``"en"``: word-list evidence plus the model's log-odds when given."""
    spanish, english = language_scores(text)
    evidence = spanish - english
    if model_logit is not None:
        evidence += MODEL_WEIGHT * model_logit
    if evidence > 0:
        return "es"
    if evidence < 0:
        return "en"
    return default
