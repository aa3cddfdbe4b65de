"""Quality gate: the packaged model meets the intention engine's goals on data it never saw.

No test here looks at time; latency is measured by ``bench.intent``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from frontdesk.engine.intent import metrics
from frontdesk.engine.intent.classifier import IntentClassifier
from frontdesk.engine.intent.data import read_csv
from frontdesk.engine.intent.training import _digest
from tests.engine.intent.conftest import DATA


def _assert_goals(classifier: IntentClassifier, path: Path) -> None:
    result = metrics.summarise(metrics.classify_all(classifier, read_csv(path)))
    per_lang = result["per_lang"]
    assert result["macro_f1"] >= metrics.GOAL_MACRO_F1, result["per_label"]
    assert abs(per_lang["es"]["macro_f1"] - per_lang["en"]["macro_f1"]) <= 0.03, per_lang
    assert result["per_label"]["purchase_intent"]["precision"] >= 0.95


def test_goals_on_the_held_out_set(classifier: IntentClassifier) -> None:
    _assert_goals(classifier, DATA / "holdout.csv")


def _independent(classifier: IntentClassifier) -> dict[str, Any]:
    return metrics.summarise(metrics.classify_all(classifier, read_csv(DATA / "independent.csv")))


def test_macro_f1_on_the_independent_set(classifier: IntentClassifier) -> None:
    """Messages written apart from the training data: the model generalises beyond its own
    phrasing."""
    result = _independent(classifier)
    assert result["macro_f1"] >= metrics.GOAL_MACRO_F1, result["per_label"]


def test_purchase_precision_on_the_independent_set(classifier: IntentClassifier) -> None:
    result = _independent(classifier)
    assert result["per_label"]["purchase_intent"]["precision"] >= 0.95


def test_languages_within_3_points_on_the_independent_set(classifier: IntentClassifier) -> None:
    per_lang = _independent(classifier)["per_lang"]
    assert abs(per_lang["es"]["macro_f1"] - per_lang["en"]["macro_f1"]) <= 0.03, per_lang


def test_packaged_model_was_trained_on_the_committed_data(classifier: IntentClassifier) -> None:
    info = classifier.model.info
    assert info["data_sha256"] == _digest(read_csv(DATA / "train.csv"))
