"""The committed training and held-out data: size, balance, language mix, no leakage, fresh."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from frontdesk.engine.intent.data import read_csv
from frontdesk.engine.intent.features import normalise
from frontdesk.engine.intent.labels import LABELS
from tests.engine.intent.conftest import DATA


def test_training_data_is_large_balanced_and_half_spanish() -> None:
    data = read_csv(DATA / "train.csv")
    assert len(data) >= 2500
    assert Counter(data.langs)["es"] >= len(data) / 2
    counts = Counter(data.labels)
    assert set(counts) == set(LABELS)
    assert min(counts.values()) >= 150


def test_holdout_is_large_and_never_trained_on() -> None:
    train = read_csv(DATA / "train.csv")
    holdout = read_csv(DATA / "holdout.csv")
    assert len(holdout) >= 400
    assert set(holdout.labels) == set(LABELS)
    assert Counter(holdout.langs)["es"] >= len(holdout) / 2
    seen = {normalise(text) for text in train.texts}
    assert not [text for text in holdout.texts if normalise(text) in seen]
    assert not set(train.sources) & set(holdout.sources)


def test_generated_files_match_their_sources() -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(DATA / "augment.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
