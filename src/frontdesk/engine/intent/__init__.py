"""The intention engine: what a visitor's message asks for, in Spanish or English.

``default_classifier().classify(text)`` → :class:`IntentPrediction` (label, calibrated confidence,
language, every label's probability). The model ships with the package
(``model/intent.fdim``) and is rebuilt from ``data/intent/`` with ``frontdesk intent train``.
"""

from __future__ import annotations

from frontdesk.engine.intent.artifact import IntentModelError
from frontdesk.engine.intent.classifier import (
    IntentClassifier,
    IntentPrediction,
    default_classifier,
)
from frontdesk.engine.intent.labels import LABELS, LANGUAGES

__all__ = [
    "LABELS",
    "LANGUAGES",
    "IntentClassifier",
    "IntentModelError",
    "IntentPrediction",
    "default_classifier",
]
