"""Shared fixtures: a small labelled set cut from the project's training data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from frontdesk.engine.intent.classifier import IntentClassifier, default_classifier
from frontdesk.engine.intent.data import Dataset, read_csv

DATA = Path(__file__).resolve().parents[3] / "data" / "intent"
PER_LABEL_AND_LANG = 8


def small_rows() -> list[dict[str, str]]:
    """The first hand-written messages of every label and language, with their variants."""
    with (DATA / "train.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    keep = []
    for row in rows:
        label, _lang, number = row["source"].rsplit(".", 2)
        if not label.startswith("compose") and int(number) < PER_LABEL_AND_LANG:
            keep.append(row)
    return keep


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("intent-data")
    with (directory / "train.csv").open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, ["text", "label", "lang", "source"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(small_rows())
    return directory


@pytest.fixture(scope="session")
def small_data(small_dir: Path) -> Dataset:
    return read_csv(small_dir / "train.csv")


@pytest.fixture(scope="session")
def classifier() -> IntentClassifier:
    return default_classifier()
