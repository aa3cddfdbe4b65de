"""Text → features: accent-folded, lower-cased words, word pairs and character n-grams.

The same function feeds training and inference, so the two can never disagree. Emoji and ``?``,
``$``, ``!`` are kept as tokens (``🙏`` and ``?`` say a lot in a chat); runs of three or more of
the same letter are squeezed to one (``holaaa`` → ``hola``); digits become ``0``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

MAX_CHARS: Final = 1000
"""Longer messages are cut here: the opening says what a message is about, and it bounds work."""

CHAR_NGRAMS: Final = (2, 5)
_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9.,;:\-_'\"()*/\\]")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_DIGITS = re.compile(r"[0-9]")
_WORD_CACHE: Final = 8192


def normalise(text: str) -> str:
    """Case-folded, accent-free (``ñ`` → ``n``), emoji kept, whitespace squeezed."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_CHARS].casefold())
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _DIGITS.sub("0", _REPEAT.sub(r"\1", folded.replace("’", "'")))


def tokens(text: str) -> list[str]:
    """The words and symbol tokens of ``text`` (after :func:`normalise`)."""
    return _TOKEN.findall(normalise(text))


@lru_cache(maxsize=_WORD_CACHE)
def _char_ngrams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    return tuple(
        padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)
    )


def _length_bucket(count: int) -> str:
    if count <= 3:
        return f"len:{count}"
    return "len:4-7" if count <= 7 else "len:8-15" if count <= 15 else "len:16+"


def features(text: str) -> list[str]:
    """Every feature of ``text``, duplicates included (the caller decides how to count them)."""
    words = tokens(text)
    out = [_length_bucket(len(words))]
    previous = "<s>"
    for word in words:
        out.append("w:" + word)
        out.append(f"b:{previous} {word}")
        previous = word
        if word.isalnum():
            out.extend(_char_ngrams(word))
    if words:
        out.append(f"b:{previous} </s>")
    return out
