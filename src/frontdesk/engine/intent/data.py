"""Labelled messages from a CSV file (``text,label`` and optionally ``lang`` and ``source``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from frontdesk.engine.intent.labels import LABELS, LANGUAGES
from frontdesk.errors import FrontDeskError

MAX_ROWS: Final = 200_000
MAX_TEXT_CHARS: Final = 10_000


class IntentDataError(FrontDeskError):
    """A labelled-messages file that cannot be used as it is."""

    status = 422
    title = "Invalid labelled data"
    type_slug = "invalid-labelled-data"


@dataclass(frozen=True, slots=True)
class Dataset:
    """Parallel columns. ``langs`` holds ``""`` where the file gave no language; ``sources``
    groups the variants of one written message (each row its own group when not given), so
    cross-validation never trains on a message's typo'd twin and tests on the original."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    langs: tuple[str, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: list[int]) -> Dataset:
        return Dataset(
            texts=tuple(self.texts[i] for i in rows),
            labels=tuple(self.labels[i] for i in rows),
            langs=tuple(self.langs[i] for i in rows),
            sources=tuple(self.sources[i] for i in rows),
        )


def parse_csv(content: str, *, name: str = "data") -> Dataset:
    """Parse CSV text with a header row; other columns than the known ones are ignored."""
    reader = csv.DictReader(io.StringIO(content, newline=""))
    fields = reader.fieldnames
    if not fields:
        raise IntentDataError(f"{name}: empty file (a header with text,label is required)")
    fields = [f.strip().lower() for f in fields]
    reader.fieldnames = fields
    missing = [column for column in ("text", "label") if column not in fields]
    if missing:
        raise IntentDataError(f"{name}: missing column {', '.join(missing)}")
    texts: list[str] = []
    labels: list[str] = []
    langs: list[str] = []
    sources: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            if len(texts) >= MAX_ROWS:
                raise IntentDataError(f"{name}: more than {MAX_ROWS} rows")
            text = (row.get("text") or "").strip()
            label = (row.get("label") or "").strip()
            lang = (row.get("lang") or "").strip().lower()
            if not text and not label:
                continue
            if not text:
                raise IntentDataError(f"{name}, line {line}: empty text")
            if len(text) > MAX_TEXT_CHARS:
                raise IntentDataError(f"{name}, line {line}: text over {MAX_TEXT_CHARS} chars")
            if label not in LABELS:
                raise IntentDataError(f"{name}, line {line}: unknown label {label!r}")
            if lang and lang not in LANGUAGES:
                raise IntentDataError(f"{name}, line {line}: unknown lang {lang!r}")
            texts.append(text)
            labels.append(label)
            langs.append(lang)
            sources.append((row.get("source") or "").strip() or f"row:{line}")
    except csv.Error as exc:
        raise IntentDataError(f"{name}: malformed CSV: {exc}") from None
    if not texts:
        raise IntentDataError(f"{name}: no labelled rows")
    return Dataset(tuple(texts), tuple(labels), tuple(langs), tuple(sources))


def read_csv(path: Path) -> Dataset:
    """Read and parse ``path``; :class:`IntentDataError` for anything unusable."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IntentDataError(f"{path.name}: not UTF-8") from None
    except OSError as exc:
        raise IntentDataError(f"cannot read {path}: {exc.strerror}") from None
    return parse_csv(content, name=path.name)
