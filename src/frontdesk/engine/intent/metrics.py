"""Scoring a classifier: accuracy, macro-F1, per-label and per-language figures, the confusion
matrix, calibration (expected calibration error and a reliability table) and latency."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from frontdesk.engine.intent import training
from frontdesk.engine.intent.classifier import IntentClassifier, IntentPrediction
from frontdesk.engine.intent.data import Dataset
from frontdesk.engine.intent.labels import LABELS, LANGUAGES, PURCHASE_INTENT

BINS: Final = 10
GOAL_MACRO_F1: Final = 0.92
GOAL_LANGUAGE_GAP: Final = 0.03
GOAL_PURCHASE_PRECISION: Final = 0.95
GOAL_P99_MS: Final = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One scored row: the truth, the prediction and how long it took."""

    label: str
    lang: str
    prediction: IntentPrediction
    nanoseconds: int

    @property
    def top(self) -> str:
        """The most probable label, before abstaining."""
        return max(self.prediction.scores, key=self.prediction.scores.__getitem__)


def classify_all(
    classifier: IntentClassifier, data: Dataset, progress: Callable[[], None] | None = None
) -> list[Outcome]:
    """Classify every row, timing each call on its own."""
    outcomes = []
    clock = time.perf_counter_ns
    classifier.classify("warm-up")
    for text, label, lang in zip(data.texts, data.labels, data.langs, strict=True):
        started = clock()
        prediction = classifier.classify(text)
        elapsed = clock() - started
        outcomes.append(Outcome(label, lang or prediction.language, prediction, elapsed))
        if progress:
            progress()
    return outcomes


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _per_label(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {}
    for label in LABELS:
        support = sum(t == label for t in truth)
        chosen = sum(p == label for p in predicted)
        hits = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        precision = hits / chosen if chosen else 0.0
        recall = hits / support if support else 0.0
        result[label] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": support,
            "predicted": chosen,
        }
    return result


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the labels that occur in the truth or the predictions."""
    per_label = _per_label(truth, predicted)
    present = [v["f1"] for v in per_label.values() if v["support"] or v["predicted"]]
    return sum(present) / len(present) if present else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def reliability(outcomes: Sequence[Outcome]) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of the top label's probability, and the per-bin table."""
    bins: list[dict[str, float]] = []
    error = 0.0
    for n in range(BINS):
        low, high = n / BINS, (n + 1) / BINS
        inside = [
            o
            for o in outcomes
            if low < o.prediction.confidence <= high or (n == 0 and o.prediction.confidence == 0)
        ]
        if not inside:
            bins.append({"lower": low, "upper": high, "count": 0, "confidence": 0, "accuracy": 0})
            continue
        confidence = sum(o.prediction.confidence for o in inside) / len(inside)
        accuracy = sum(o.top == o.label for o in inside) / len(inside)
        error += len(inside) / len(outcomes) * abs(confidence - accuracy)
        bins.append(
            {
                "lower": low,
                "upper": high,
                "count": len(inside),
                "confidence": confidence,
                "accuracy": accuracy,
            }
        )
    return error, bins


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Every figure of the evaluation, as plain JSON-ready data."""
    truth = [o.label for o in outcomes]
    predicted = [o.prediction.label for o in outcomes]
    total = len(outcomes)
    per_lang: dict[str, dict[str, float]] = {}
    for lang in LANGUAGES:
        rows = [o for o in outcomes if o.lang == lang]
        if rows:
            per_lang[lang] = {
                "macro_f1": macro_f1([o.label for o in rows], [o.prediction.label for o in rows]),
                "accuracy": sum(o.label == o.prediction.label for o in rows) / len(rows),
                "support": len(rows),
                "language_accuracy": sum(o.prediction.language == lang for o in rows) / len(rows),
            }
    ece, bins = reliability(outcomes)
    latencies = [o.nanoseconds / 1e6 for o in outcomes]
    result: dict[str, Any] = {
        "rows": total,
        "accuracy": sum(t == p for t, p in zip(truth, predicted, strict=True)) / total,
        "macro_f1": macro_f1(truth, predicted),
        "per_label": _per_label(truth, predicted),
        "per_lang": per_lang,
        "labels": list(LABELS),
        "confusion": [
            [sum(t == a and p == b for t, p in zip(truth, predicted, strict=True)) for b in LABELS]
            for a in LABELS
        ],
        "abstained": sum(o.prediction.abstained for o in outcomes),
        "ece": ece,
        "reliability": bins,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
    }
    result["goals"] = goals(result)
    return result


def goals(result: dict[str, Any]) -> dict[str, bool]:
    """Each goal of the intention engine, met or not, for one evaluation."""
    langs = [v["macro_f1"] for v in result["per_lang"].values()]
    return {
        "macro_f1": result["macro_f1"] >= GOAL_MACRO_F1,
        "language_gap": len(langs) < 2 or abs(langs[0] - langs[1]) <= GOAL_LANGUAGE_GAP,
        "purchase_precision": result["per_label"][PURCHASE_INTENT]["precision"]
        >= GOAL_PURCHASE_PRECISION,
        "latency_p99": result["latency_p99_ms"] <= GOAL_P99_MS,
    }


def cross_validate(
    data: Dataset,
    *,
    folds: int = 5,
    settings: training.Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Stratified, grouped k-fold: each fold's model is trained (and calibrated) from scratch on
    the other folds and scores the rows it never saw; the figures are over all rows."""
    settings = settings or training.Settings()
    outcomes: list[Outcome] = []
    for n, (train_rows, test_rows) in enumerate(training.folds(data, folds, settings.seed), 1):
        if progress:
            progress(f"fold {n}/{folds}: training")
        model = training.train(data.subset(train_rows), settings)
        if progress:
            progress(f"fold {n}/{folds}: scoring")
        outcomes.extend(classify_all(IntentClassifier(model), data.subset(test_rows)))
    result = summarise(outcomes)
    result["folds"] = folds
    return result
