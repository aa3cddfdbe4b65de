"""The trained model as a file: a small, versioned binary that loads without unpickling anything.

Layout: the magic ``FDINTENT``, then one zlib stream holding a 4-byte little-endian header length,
the header (UTF-8 JSON, sorted keys), the vocabulary (UTF-8, one feature a line) and the weights
(little-endian float32, features × columns). The header carries the SHA-256 of vocabulary and
weights, so a file changed after training is refused, as is anything malformed. Writing is
deterministic: the same model always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from frontdesk.engine.intent.labels import LABELS, LANGUAGES
from frontdesk.errors import FrontDeskError

MAGIC: Final = b"FDINTENT"
FORMAT: Final = 1
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_BODY_BYTES: Final = 128 * 1024 * 1024
PACKAGED: Final = Path(__file__).resolve().parent / "model" / "intent.fdim"

Weights = npt.NDArray[np.float32]


class IntentModelError(FrontDeskError):
    """The intent model file is missing, malformed or not the one that was trained."""

    status = 500
    title = "Intent model unavailable"
    type_slug = "intent-model-unavailable"


@dataclass(frozen=True, slots=True, eq=False)
class IntentModel:
    """Everything inference needs.

    ``weights`` has one row per vocabulary feature and one column per label, then one column for
    the language (positive = Spanish); ``bias`` likewise. Scores are divided by ``temperature``
    before the softmax (calibration); a top label below its ``thresholds`` entry abstains.
    """

    labels: tuple[str, ...]
    vocabulary: tuple[str, ...]
    weights: Weights
    bias: Weights
    temperature: float
    thresholds: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        columns = len(self.labels) + 1
        if self.weights.shape != (len(self.vocabulary), columns):
            raise IntentModelError(
                f"weights are {self.weights.shape}, expected ({len(self.vocabulary)}, {columns})"
            )
        if self.bias.shape != (columns,):
            raise IntentModelError(f"bias is {self.bias.shape}, expected ({columns},)")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise IntentModelError("temperature must be a positive number")
        if set(self.thresholds) - set(self.labels) or not all(
            0.0 <= t <= 1.0 for t in self.thresholds.values()
        ):
            raise IntentModelError("thresholds must map labels to probabilities")
        if not (np.isfinite(self.weights).all() and np.isfinite(self.bias).all()):
            raise IntentModelError("weights must be finite")


def _header(model: IntentModel, digest: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "labels": list(model.labels),
        "languages": list(LANGUAGES),
        "features": len(model.vocabulary),
        "bias": [float(x) for x in model.bias],
        "temperature": model.temperature,
        "thresholds": model.thresholds,
        "info": model.info,
        "sha256": digest,
    }


def dumps(model: IntentModel) -> bytes:
    """The file's bytes: always the same for the same model."""
    vocabulary = "\n".join(model.vocabulary).encode()
    weights = np.ascontiguousarray(model.weights, dtype="<f4").tobytes()
    digest = hashlib.sha256(vocabulary + b"\0" + weights).hexdigest()
    header = json.dumps(
        _header(model, digest), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode()
    body = b"".join([struct.pack("<II", len(header), len(vocabulary)), header, vocabulary, weights])
    return MAGIC + zlib.compress(body, 9)


def save(model: IntentModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(dumps(model))
    temporary.replace(path)


def _decompress(data: bytes) -> bytes:
    if not data.startswith(MAGIC):
        raise IntentModelError("not an intent model file (bad magic)")
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(data[len(MAGIC) :], MAX_BODY_BYTES)
    except zlib.error as exc:
        raise IntentModelError(f"corrupt intent model file: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise IntentModelError("corrupt intent model file: truncated or too large")
    return body


def _field(header: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise IntentModelError(f"intent model header: {name!r} missing or of the wrong type")
    return value


def loads(data: bytes) -> IntentModel:
    """Parse and verify a model file's bytes; :class:`IntentModelError` when anything is off."""
    body = _decompress(data)
    if len(body) < 8:
        raise IntentModelError("corrupt intent model file: no header")
    header_size, vocabulary_size = struct.unpack_from("<II", body)
    start = 8 + header_size
    if start + vocabulary_size > len(body):
        raise IntentModelError("corrupt intent model file: sizes do not add up")
    try:
        header = json.loads(body[8:start])
    except ValueError:
        raise IntentModelError("corrupt intent model file: header is not JSON") from None
    if not isinstance(header, dict):
        raise IntentModelError("corrupt intent model file: header is not an object")
    if _field(header, "format", int) != FORMAT:
        raise IntentModelError(f"intent model format {header['format']} is not {FORMAT}")
    labels = tuple(_field(header, "labels", list))
    if set(labels) != set(LABELS) or len(labels) != len(LABELS):
        raise IntentModelError("intent model labels are not this version's labels")
    if _field(header, "languages", list) != list(LANGUAGES):
        raise IntentModelError("intent model languages are not this version's languages")
    vocabulary_bytes = body[start : start + vocabulary_size]
    weight_bytes = body[start + vocabulary_size :]
    digest = hashlib.sha256(vocabulary_bytes + b"\0" + weight_bytes).hexdigest()
    if digest != _field(header, "sha256", str):
        raise IntentModelError("intent model checksum mismatch: the file was modified")
    count = _field(header, "features", int)
    columns = len(labels) + 1
    if len(weight_bytes) != count * columns * 4:
        raise IntentModelError("corrupt intent model file: weights of the wrong size")
    vocabulary = tuple(vocabulary_bytes.decode().split("\n")) if count else ()
    weights = np.frombuffer(weight_bytes, dtype="<f4").reshape(count, columns)
    try:
        bias = np.asarray(_field(header, "bias", list), dtype=np.float32)
        thresholds = {str(k): float(v) for k, v in _field(header, "thresholds", dict).items()}
        temperature = float(_field(header, "temperature", (int, float)))
    except (TypeError, ValueError):
        raise IntentModelError("intent model header: numbers expected") from None
    return IntentModel(
        labels=labels,
        vocabulary=vocabulary,
        weights=weights.astype(np.float32),
        bias=bias,
        temperature=temperature,
        thresholds=thresholds,
        info=_field(header, "info", dict),
    )


def load(path: Path | None = None) -> IntentModel:
    """Read the model at ``path`` (the packaged one by default)."""
    path = path or PACKAGED
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IntentModelError(f"{path.name}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise IntentModelError(f"cannot read intent model {path}: {exc.strerror}") from None
    return loads(data)
