"""The model file: a faithful round trip, no unpickling, and a clear refusal of bad files."""

from __future__ import annotations

import pickle
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from frontdesk.engine.intent import artifact
from frontdesk.engine.intent.artifact import MAGIC, IntentModel, IntentModelError
from frontdesk.engine.intent.classifier import IntentClassifier


@pytest.fixture(scope="module")
def packaged() -> bytes:
    return artifact.PACKAGED.read_bytes()


def _body(data: bytes) -> bytes:
    return zlib.decompress(data[len(MAGIC) :])


def _pack(body: bytes) -> bytes:
    return MAGIC + zlib.compress(body, 9)


def test_round_trip_is_byte_identical(packaged: bytes) -> None:
    model = artifact.loads(packaged)
    assert artifact.dumps(model) == packaged
    assert len(model.vocabulary) == model.weights.shape[0]


def test_loading_never_unpickles(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert IntentClassifier.load().classify("hola").label == "greeting"


def test_packaged_model_is_small() -> None:
    assert artifact.PACKAGED.stat().st_size < 4 * 1024 * 1024


def test_a_changed_weight_is_refused(packaged: bytes) -> None:
    body = bytearray(_body(packaged))
    body[-5] ^= 0x01
    with pytest.raises(IntentModelError, match="checksum mismatch"):
        artifact.loads(_pack(bytes(body)))


def test_a_changed_header_is_refused(packaged: bytes) -> None:
    body = _body(packaged)
    header_size, vocabulary_size = struct.unpack_from("<II", body)
    header = body[8 : 8 + header_size].replace(b'"format":1', b'"format":9')
    rebuilt = struct.pack("<II", len(header), vocabulary_size) + header + body[8 + header_size :]
    with pytest.raises(IntentModelError, match="format 9"):
        artifact.loads(_pack(rebuilt))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic"),
        (b"\x80\x04\x95pickle", "bad magic"),
        (MAGIC + b"not zlib at all", "corrupt"),
        (MAGIC + zlib.compress(b"abc"), "no header"),
        (MAGIC + zlib.compress(struct.pack("<II", 5, 0) + b"{oops"), "not JSON"),
        (MAGIC + zlib.compress(struct.pack("<II", 99, 0) + b"{}"), "do not add up"),
        (MAGIC + zlib.compress(struct.pack("<II", 2, 0) + b"[]"), "not an object"),
        (MAGIC + zlib.compress(struct.pack("<II", 2, 0) + b"{}"), "'format' missing"),
    ],
)
def test_malformed_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(IntentModelError, match=message):
        artifact.loads(data)


def test_truncated_file_is_refused(packaged: bytes) -> None:
    with pytest.raises(IntentModelError, match="corrupt"):
        artifact.loads(packaged[: len(packaged) // 2])


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IntentModelError, match="cannot read intent model"):
        IntentClassifier.load(tmp_path / "missing.fdim")


def test_inconsistent_models_cannot_be_built(packaged: bytes) -> None:
    model = artifact.loads(packaged)
    with pytest.raises(IntentModelError, match="weights are"):
        replace(model, vocabulary=model.vocabulary[:-1])
    with pytest.raises(IntentModelError, match="temperature"):
        replace(model, temperature=0.0)
    with pytest.raises(IntentModelError, match="thresholds"):
        replace(model, thresholds={"nope": 0.5})
    broken = model.weights.copy()
    broken[0, 0] = np.nan
    with pytest.raises(IntentModelError, match="finite"):
        IntentModel(
            labels=model.labels,
            vocabulary=model.vocabulary,
            weights=broken,
            bias=model.bias,
            temperature=model.temperature,
            thresholds=model.thresholds,
        )


def test_save_writes_what_load_reads(tmp_path: Path, packaged: bytes) -> None:
    model = artifact.loads(packaged)
    target = tmp_path / "nested" / "model.fdim"
    artifact.save(model, target)
    assert target.read_bytes() == packaged
    assert artifact.load(target).thresholds == model.thresholds
