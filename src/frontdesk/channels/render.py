"""Fitting a reply into a channel: its declared limits, text split where sentences end.

Each channel declares ``Capabilities`` and a renderer that turns one ``Reply`` into the
payloads it sends; the text helpers here are shared by all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ELLIPSIS: Final = "…"
_SENTENCE_END = re.compile(r"((?<=[.!?…])\s+|\s*\n\s*)")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can show, and how much of it."""

    max_text: int
    max_buttons: int = 0
    max_button_title: int = 0
    max_list_rows: int = 0
    max_row_title: int = 0
    max_row_description: int = 0
    max_interactive_body: int = 0
    cards: bool = False


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 1 else text[:limit]


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters, broken after sentences where it can,
    else between words, else anywhere; paragraphs stay paragraphs inside a chunk, and nothing
    is lost but whitespace."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    current = ""
    for separator, piece in _pieces(text.strip(), limit):
        joined = f"{current}{separator}{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """(separator before it, sentence) pairs, each sentence at most ``limit`` long (longer ones
    broken between words, or anywhere)."""
    pieces: list[tuple[str, str]] = []
    parts = _SENTENCE_END.split(text)
    separators = ["", *(("\n\n" if "\n" in gap else " ") for gap in parts[1::2])]
    for separator, sentence in zip(separators, parts[::2], strict=True):
        sentence = sentence.strip()
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            pieces.append((separator, sentence[:cut].rstrip()))
            separator, sentence = " ", sentence[cut:].lstrip()
        if sentence:
            pieces.append((separator, sentence))
    return pieces
