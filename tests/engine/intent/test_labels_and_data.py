"""Labels, and parsing labelled CSV files (bad files refused with one clear message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.engine.intent.data import IntentDataError, parse_csv, read_csv
from frontdesk.engine.intent.labels import DESCRIPTIONS, LABELS


def test_labels_are_exactly_the_nine() -> None:
    assert LABELS == (
        "purchase_intent",
        "pricing",
        "product_info",
        "schedule",
        "human_handoff",
        "support",
        "greeting",
        "goodbye_thanks",
        "other",
    )
    assert set(DESCRIPTIONS) == set(LABELS)


def test_parse_keeps_known_columns_and_ignores_others() -> None:
    data = parse_csv(
        'id,Text,label,lang,notes\n1,hola,greeting,es,x\n2,"how much, really?",pricing,,y\n'
    )
    assert data.texts == ("hola", "how much, really?")
    assert data.labels == ("greeting", "pricing")
    assert data.langs == ("es", "")
    assert data.sources[0] != data.sources[1]


def test_blank_rows_are_skipped() -> None:
    assert len(parse_csv("text,label\nhola,greeting\n,\nchao,goodbye_thanks\n")) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("text,lang\nhola,es\n", "missing column label"),
        ("label\ngreeting\n", "missing column text"),
        ("text,label\nhola,saludo\n", "unknown label 'saludo'"),
        ("text,label,lang\nhola,greeting,fr\n", "unknown lang 'fr'"),
        ("text,label\n,greeting\n", "empty text"),
        ("text,label\n", "no labelled rows"),
    ],
)
def test_bad_content_is_refused(content: str, message: str) -> None:
    with pytest.raises(IntentDataError, match=message):
        parse_csv(content)


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\nqué más,greeting\n".encode("latin-1"))
    with pytest.raises(IntentDataError, match="not UTF-8"):
        read_csv(latin)
    with pytest.raises(IntentDataError, match="cannot read"):
        read_csv(tmp_path / "nope.csv")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("text,label\nhola,greeting\n".encode("utf-8-sig"))
    assert read_csv(path).texts == ("hola",)
