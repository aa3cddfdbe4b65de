"""Inference: a message → its intent, calibrated probabilities and language, in microseconds.

scikit-learn is only used to train; here the exported vocabulary and weights are applied directly
(features → row indices → summed weight rows → softmax), which is what keeps one message well
under a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

import numpy as np

from frontdesk.engine.intent import artifact
from frontdesk.engine.intent.artifact import IntentModel
from frontdesk.engine.intent.features import context_features, tokens, word_features
from frontdesk.engine.intent.labels import OTHER
from frontdesk.engine.intent.language import detect_language

WORD_CACHE: Final = 20_000


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """One classified message."""

    label: str
    """One of ``LABELS``; ``"other"`` when the top label is below its abstain threshold."""
    confidence: float
    """The calibrated probability of the top label (before abstaining)."""
    language: str
    """``"es"`` or ``"en"``."""
    scores: Mapping[str, float]
    """Every label's calibrated probability."""

    @property
    def abstained(self) -> bool:
        """Whether the label fell back to ``other`` for lack of confidence."""
        return self.label == OTHER and max(self.scores, key=self.scores.__getitem__) != OTHER


class IntentClassifier:
    """A loaded intent model, ready to classify messages; safe to share between threads."""

    def __init__(self, model: IntentModel) -> None:
        self.model = model
        self._index = {feature: i for i, feature in enumerate(model.vocabulary)}
        self._weights = model.weights
        self._bias = model.bias.astype(np.float64)
        self._labels = model.labels
        self._other = model.labels.index(OTHER)
        self._inverse_temperature = 1.0 / model.temperature
        self._thresholds = tuple(model.thresholds.get(label, 0.0) for label in model.labels)
        # word → its feature rows; a plain dict (cleared when full) is cheaper than lru_cache
        self._word_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> IntentClassifier:
        """The model at ``path``, or the one shipped with the package when ``None``."""
        return cls(artifact.load(path))

    def _word_rows(self, word: str) -> tuple[int, ...]:
        rows = self._word_cache.get(word)
        if rows is None:
            index = self._index
            rows = tuple(i for f in word_features(word) if (i := index.get(f)) is not None)
            if len(self._word_cache) >= WORD_CACHE:
                self._word_cache.clear()
            self._word_cache[word] = rows
        return rows

    def logits(self, text: str) -> np.ndarray:
        """Raw scores: one per label, then the language's (positive means Spanish)."""
        index = self._index
        words = tokens(text)
        found = {i for f in context_features(words) if (i := index.get(f)) is not None}
        for word in words:
            found.update(self._word_rows(word))
        rows = list(found)
        if not rows:
            return self._bias.copy()
        summed = self._weights[rows].sum(axis=0, dtype=np.float64)
        logits: np.ndarray = self._bias + summed / math.sqrt(len(rows))
        return logits

    def classify(self, text: str) -> IntentPrediction:
        """The intent of one message."""
        raw = self.logits(text)
        scaled = raw[:-1] * self._inverse_temperature
        exp = np.exp(scaled - scaled.max())
        probabilities = exp / exp.sum()
        top = int(probabilities.argmax())
        confidence = float(probabilities[top])
        label = self._labels[top] if confidence >= self._thresholds[top] else OTHER
        return IntentPrediction(
            label=label,
            confidence=confidence,
            language=detect_language(text, model_logit=float(raw[-1])),
            scores=MappingProxyType(
                {name: float(p) for name, p in zip(self._labels, probabilities, strict=True)}
            ),
        )


@cache
def default_classifier() -> IntentClassifier:
    """The packaged model, loaded once per process."""
    return IntentClassifier.load()
