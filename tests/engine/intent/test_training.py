"""Training: deterministic to the byte, calibrated, and refusing data it cannot learn from."""

from __future__ import annotations

import numpy as np
import pytest

from frontdesk.engine.intent import artifact, training
from frontdesk.engine.intent.classifier import IntentClassifier
from frontdesk.engine.intent.data import Dataset, IntentDataError
from frontdesk.engine.intent.features import features, normalise, tokens
from frontdesk.engine.intent.labels import LABELS, PURCHASE_INTENT


def test_training_twice_gives_identical_bytes(small_data: Dataset) -> None:
    first = artifact.dumps(training.train(small_data))
    second = artifact.dumps(training.train(small_data))
    assert first == second


def test_trained_model_learns_its_data(small_data: Dataset) -> None:
    model = training.train(small_data)
    classifier = IntentClassifier(model)
    pairs = zip(small_data.texts, small_data.labels, strict=True)
    hits = sum(classifier.classify(text).label == label for text, label in pairs)
    assert hits / len(small_data) > 0.9
    assert model.info["rows"] == len(small_data)
    assert 0.2 <= model.temperature <= 5.0
    assert 0.2 <= model.thresholds["other"] <= model.thresholds[PURCHASE_INTENT] <= 0.95


def test_inference_matches_the_training_maths(small_data: Dataset) -> None:
    vocab, weights, bias = training._fit(small_data, training.Settings())
    classifier = IntentClassifier(
        artifact.IntentModel(
            labels=LABELS,
            vocabulary=vocab,
            weights=weights.astype(np.float32),
            bias=bias.astype(np.float32),
            temperature=1.0,
            thresholds={},
        )
    )
    texts = list(small_data.texts[:20])
    expected = training._logits(texts, vocab, weights, bias)
    actual = np.asarray([classifier.logits(text)[:-1] for text in texts])
    assert np.allclose(actual, expected, atol=1e-4)


def test_a_label_without_rows_is_refused(small_data: Dataset) -> None:
    rows = [i for i, label in enumerate(small_data.labels) if label != "greeting"]
    with pytest.raises(IntentDataError, match="no training rows for greeting"):
        training.train(small_data.subset(rows))


def test_temperature_fits_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), truth] += 1.0
    assert training.fit_temperature(logits * 4, truth) > 2.0


def test_features_fold_accents_squeeze_repeats_and_keep_emoji() -> None:
    assert normalise("¿Cuánto VALE la PÁGINA?") == "¿cuanto vale la pagina?"
    assert tokens("holaaaa 🙏 pagina!!") == ["hola", "🙏", "pagina", "!", "!"]
    assert tokens("llámame al 300 123") == ["llamame", "al", "000", "000"]
    found = features("precio?")
    assert "w:precio" in found
    assert "b:<s> precio" in found
    assert " pre" in found
    assert "w:?" in found


def test_precision_bound_keeps_a_margin_that_shrinks_with_evidence() -> None:
    bound = training.precision_lower_bound
    assert bound(0, 0) == 1.0
    assert bound(19, 20) < bound(190, 200) < bound(1900, 2000) < 0.95
    assert abs(bound(950, 1000) - 0.9374) < 1e-3
    # 40 purchases without a single mistake are still too few to vouch for 0.95
    assert bound(40, 40) < 0.95 < bound(80, 80)


def test_purchase_threshold_rises_until_the_bound_reaches_the_goal() -> None:
    rng = np.random.default_rng(1)
    purchase, other = LABELS.index(PURCHASE_INTENT), LABELS.index("other")
    truth = np.where(rng.random(4000) < 0.5, purchase, other)
    confidence = rng.uniform(0.3, 1.0, 4000)
    # the more confident a purchase call, the likelier it is right
    right = rng.random(4000) < confidence
    called = np.where(right, truth, np.where(truth == purchase, other, purchase))
    probabilities = np.full((4000, len(LABELS)), 0.0)
    probabilities[np.arange(4000), called] = confidence
    probabilities[np.arange(4000), other] += 1 - confidence
    thresholds = training.fit_thresholds(probabilities, truth)
    chosen = training.abstain(probabilities, list(thresholds.values())) == purchase
    hits = int((truth[chosen] == purchase).sum())
    assert training.precision_lower_bound(hits, int(chosen.sum())) >= training.PURCHASE_PRECISION
    assert thresholds[PURCHASE_INTENT] > thresholds["other"]
