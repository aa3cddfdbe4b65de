"""Fitting a reply into a channel: its declared limits, text split where sentences end.

Each channel declares ``Capabilities`` and a renderer that turns one ``Reply`` into the
payloads it sends; the text helpers here are shared by all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    max_text_bytes: int = 0
    """When set, a text is also bounded in UTF-8 bytes (Instagram counts bytes, not
    characters)."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 1 else text[:limit]


def split_text(text: str, limit: int, *, max_bytes: int = 0) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters (and ``max_bytes`` UTF-8 bytes when
    given), broken after sentences where it can, else between words, else anywhere; paragraphs
    stay paragraphs inside a chunk, and nothing is lost but whitespace."""
    if limit < 1 or max_bytes < 0 or 0 < max_bytes < 4:
        raise ValueError("limit must be positive, and a byte limit hold any character")

    def fits(chunk: str) -> bool:
        return len(chunk) <= limit and (not max_bytes or len(chunk.encode()) <= max_bytes)

    chunks: list[str] = []
    current = ""
    for separator, piece in _pieces(text.strip(), limit, fits):
        joined = f"{current}{separator}{piece}" if current else piece
        if fits(joined):
            current = joined
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, limit: int, fits: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(separator before it, sentence) pairs, each sentence one that ``fits`` (longer ones
    broken between words, or anywhere)."""
    pieces: list[tuple[str, str]] = []
    parts = _SENTENCE_END.split(text)
    separators = ["", *(("\n\n" if "\n" in gap else " ") for gap in parts[1::2])]
    for separator, sentence in zip(separators, parts[::2], strict=True):
        sentence = sentence.strip()
        while not fits(sentence):
            room = _room(sentence[:limit], fits)
            cut = sentence.rfind(" ", 0, room + 1)
            cut = cut if cut > 0 else room
            pieces.append((separator, sentence[:cut].rstrip()))
            separator, sentence = " ", sentence[cut:].lstrip()
        if sentence:
            pieces.append((separator, sentence))
    return pieces


def _room(text: str, fits: Callable[[str], bool]) -> int:
    """How many of ``text``'s first characters fit (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle - 1
    return low
