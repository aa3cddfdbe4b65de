"""Training: features → logistic regression → temperature calibration → abstain thresholds.

Deterministic from end to end (sorted vocabulary, fixed fold seed, a deterministic solver, weights
rounded before export), so the same data always gives a byte-identical model file.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedGroupKFold  # type: ignore[import-untyped]

from frontdesk.engine.intent.artifact import IntentModel
from frontdesk.engine.intent.data import Dataset, IntentDataError
from frontdesk.engine.intent.features import features
from frontdesk.engine.intent.labels import LABELS, OTHER, PURCHASE_INTENT
from frontdesk.engine.language import guess_language

Floats = npt.NDArray[np.float64]
Progress = Callable[[str], None]

MIN_DF: Final = 2
C: Final = 50.0
LANG_C: Final = 4.0
MAX_ITER: Final = 3000
TOL: Final = 1e-4
SEED: Final = 0
CALIBRATION_FOLDS: Final = 3
PURCHASE_PRECISION: Final = 0.95
"""The goal for ``purchase_intent``'s precision: a false "wants to buy" costs more than a purchase
read as a question."""
PRECISION_Z: Final = 1.645
"""The purchase threshold is raised until the one-sided 95 % lower confidence bound (Wilson) of
the out-of-fold purchase precision reaches ``PURCHASE_PRECISION``: a margin that is wide when few
messages are called purchases and narrow when many are, instead of a fixed higher target."""
DECIMALS: Final = 6


@dataclass(frozen=True, slots=True)
class Settings:
    """What a training run may vary; the defaults are what ``frontdesk intent train`` uses."""

    c: float = C
    min_df: int = MIN_DF
    calibration_folds: int = CALIBRATION_FOLDS
    seed: int = SEED


def vocabulary(texts: Sequence[str], min_df: int) -> tuple[str, ...]:
    """Every feature in at least ``min_df`` messages, sorted."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(features(text)))
    return tuple(sorted(f for f, n in counts.items() if n >= min_df))


def vectorise(texts: Sequence[str], vocab: Sequence[str]) -> sparse.csr_matrix:
    """Binary features scaled to unit length: exactly what :class:`IntentClassifier` computes."""
    index = {feature: i for i, feature in enumerate(vocab)}
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        rows = sorted({i for f in features(text) if (i := index.get(f)) is not None})
        indices.extend(rows)
        if rows:
            values.extend([1.0 / math.sqrt(len(rows))] * len(rows))
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(values), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(texts), len(vocab)),
    )


def _languages(data: Dataset) -> list[str]:
    """The given languages, guessed from marker words where a row has none."""
    return [
        lang or guess_language(text) or "es"
        for text, lang in zip(data.texts, data.langs, strict=True)
    ]


def _fit(
    data: Dataset, settings: Settings, *, language: bool = True
) -> tuple[tuple[str, ...], Floats, Floats]:
    """(vocabulary, weights, bias): label columns then the language column."""
    missing = sorted(set(LABELS) - set(data.labels))
    if missing:
        raise IntentDataError(f"no training rows for {', '.join(missing)}")
    vocab = vocabulary(data.texts, settings.min_df)
    x = vectorise(data.texts, vocab)
    y = np.asarray([LABELS.index(label) for label in data.labels])
    intents = LogisticRegression(C=settings.c, max_iter=MAX_ITER, tol=TOL)
    intents.fit(x, y)
    weights = np.zeros((len(vocab), len(LABELS) + 1))
    bias = np.zeros(len(LABELS) + 1)
    weights[:, : len(LABELS)] = intents.coef_.T
    bias[: len(LABELS)] = intents.intercept_
    spanish = np.asarray([lang == "es" for lang in _languages(data)], dtype=np.int64)
    if language and 0 < spanish.sum() < len(spanish):
        model = LogisticRegression(C=LANG_C, max_iter=MAX_ITER, tol=TOL)
        model.fit(x, spanish)
        weights[:, -1] = model.coef_[0]
        bias[-1] = model.intercept_[0]
    return vocab, weights, bias


def _logits(texts: Sequence[str], vocab: Sequence[str], weights: Floats, bias: Floats) -> Floats:
    result: Floats = np.asarray(vectorise(texts, vocab) @ weights[:, : len(LABELS)])
    return result + bias[: len(LABELS)]


def softmax(logits: Floats, temperature: float = 1.0) -> Floats:
    scaled = logits / temperature
    exp = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    result: Floats = exp / exp.sum(axis=1, keepdims=True)
    return result


def fit_temperature(logits: Floats, truth: npt.NDArray[np.int64]) -> float:
    """The temperature minimising the negative log-likelihood of held-out predictions."""
    grid = np.round(np.exp(np.linspace(math.log(0.2), math.log(5.0), 161)), 4)

    def nll(t: float) -> float:
        probabilities = softmax(logits, t)[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(probabilities, 1e-12, None)).mean())

    return float(min(grid, key=nll))


def abstain(probabilities: Floats, thresholds: Sequence[float]) -> npt.NDArray[np.int64]:
    """The predicted label indices once the top labels below their thresholds become ``other``."""
    top = probabilities.argmax(axis=1)
    confident = probabilities.max(axis=1) >= np.asarray(thresholds)[top]
    result: npt.NDArray[np.int64] = np.where(confident, top, LABELS.index(OTHER))
    return result


def _macro_f1(truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64]) -> float:
    scores = []
    for label in range(len(LABELS)):
        hits = float(np.sum((truth == label) & (predicted == label)))
        total = float(np.sum(truth == label) + np.sum(predicted == label))
        if total:
            scores.append(2 * hits / total)
    return sum(scores) / len(scores)


def precision_lower_bound(hits: int, total: int, z: float = PRECISION_Z) -> float:
    """The Wilson score interval's lower end for ``hits`` right out of ``total`` (1.0 when none)."""
    if not total:
        return 1.0
    p = hits / total
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (p + z * z / (2 * total) - spread) / (1 + z * z / total)


def fit_thresholds(probabilities: Floats, truth: npt.NDArray[np.int64]) -> dict[str, float]:
    """The shared abstain threshold with the best macro-F1 on held-out scores, then a higher one
    for purchases until the lower confidence bound of their precision reaches
    ``PURCHASE_PRECISION``."""
    shared = max(
        np.round(np.arange(0.2, 0.61, 0.02), 2),
        key=lambda t: (_macro_f1(truth, abstain(probabilities, [t] * len(LABELS))), -t),
    )
    thresholds = [float(shared)] * len(LABELS)
    purchase = LABELS.index(PURCHASE_INTENT)
    for candidate in np.round(np.arange(shared, 0.951, 0.01), 2):
        thresholds[purchase] = float(candidate)
        chosen = abstain(probabilities, thresholds) == purchase
        hits = int(np.sum(truth[chosen] == purchase))
        if precision_lower_bound(hits, int(chosen.sum())) >= PURCHASE_PRECISION:
            break
    return {label: thresholds[i] for i, label in enumerate(LABELS)}


def folds(data: Dataset, k: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Stratified k-fold that keeps every message's variants (same ``source``) together."""
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    rows = np.arange(len(data))
    return [
        (train.tolist(), test.tolist())
        for train, test in splitter.split(rows, data.labels, groups=data.sources)
    ]


def out_of_fold_logits(
    data: Dataset, settings: Settings, progress: Progress | None = None
) -> Floats:
    """Each row's logits from a model that never saw its ``source``."""
    logits = np.zeros((len(data), len(LABELS)))
    for n, (train, test) in enumerate(folds(data, settings.calibration_folds, settings.seed), 1):
        if progress:
            progress(f"calibration fold {n}/{settings.calibration_folds}")
        vocab, weights, bias = _fit(data.subset(train), settings, language=False)
        logits[test] = _logits([data.texts[i] for i in test], vocab, weights, bias)
    return logits


def _digest(data: Dataset) -> str:
    hasher = hashlib.sha256()
    for row in zip(data.texts, data.labels, data.langs, data.sources, strict=True):
        hasher.update("\x1f".join(row).encode() + b"\x1e")
    return hasher.hexdigest()


def train(
    data: Dataset, settings: Settings | None = None, progress: Progress | None = None
) -> IntentModel:
    """A calibrated model from ``data``: out-of-fold logits fit the temperature and thresholds,
    then the final model is fit on everything."""
    settings = settings or Settings()
    truth = np.asarray([LABELS.index(label) for label in data.labels])
    logits = out_of_fold_logits(data, settings, progress)
    temperature = fit_temperature(logits, truth)
    thresholds = fit_thresholds(softmax(logits, temperature), truth)
    if progress:
        progress("final model")
    vocab, weights, bias = _fit(data, settings)
    info: dict[str, Any] = {
        "rows": len(data),
        "data_sha256": _digest(data),
        "c": settings.c,
        "min_df": settings.min_df,
        "calibration_folds": settings.calibration_folds,
        "seed": settings.seed,
    }
    return IntentModel(
        labels=LABELS,
        vocabulary=vocab,
        weights=np.round(weights, DECIMALS).astype(np.float32),
        bias=np.round(bias, DECIMALS).astype(np.float32),
        temperature=temperature,
        thresholds=thresholds,
        info=info,
    )
