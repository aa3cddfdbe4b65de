"""Text → features: accent-folded, lower-cased words, word pairs and character n-grams.

The same function feeds training and inference, so the two can never disagree. Emoji and ``?``,
``$``, ``!`` are kept as tokens (``🙏`` and ``?`` say a lot in a chat); runs of three or more of
the same letter are squeezed to one (``holaaa`` → ``hola``); digits become ``0``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

MAX_CHARS: Final = 1000
"""Longer messages are cut here: the opening says what a message is about, and it bounds work."""

CHAR_NGRAMS: Final = (3, 5)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9.,;:\-_'\"()*/\\]")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_DIGITS = re.compile(r"[0-9]")


TRADE_WORDS: Final[frozenset[str]] = frozenset(
    _words(
        "pagina paginas pag pajina web webs website websites site sites sitio sitios landing "
        "tienda tiendas store stores shop shopify woocommerce wordpress ecommerce online "
        "virtual carrito checkout pasarela seo posicionamiento google ads pauta publicidad "
        "anuncios campana campaign redes social media instagram facebook tiktok linkedin "
        "community contenido content posts publicaciones reels hosting dominio domain ssl "
        "correo correos email app apps aplicacion aplicaciones android iphone software crm "
        "sistema mantenimiento maintenance logo logos branding marca brand identidad rediseno "
        "redesign chatbot chatbots bot whatsapp automatizacion automation diseno design disenar "
        "desarrollo development agencia agency paquete package plan planes combo asesoria "
        "consultation cotizacion quote propuesta proposal contrato contract proyecto project "
        "servicio servicios service services"
    )
)
"""Words of the agency's trade, accent-free: their presence pools into one feature."""


def normalise(text: str) -> str:
    """Case-folded, accent-free (``ñ`` → ``n``), emoji kept, whitespace squeezed."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_CHARS].casefold())
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _DIGITS.sub("0", _REPEAT.sub(r"\1", folded.replace("’", "'")))


def tokens(text: str) -> list[str]:
    """The words and symbol tokens of ``text`` (after :func:`normalise`)."""
    return _TOKEN.findall(normalise(text))


def word_features(word: str) -> tuple[str, ...]:
    """The features one word brings wherever it stands: itself and its character n-grams."""
    if not word.isalnum():
        return ("w:" + word,)
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    grams = [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
    return ("w:" + word, *grams)


def context_features(words: Sequence[str]) -> list[str]:
    """The features of the message as a whole: word pairs, the length bucket, and whether it
    names anything of the trade at all (pooled, so a rare service word still counts)."""
    count = len(words)
    bucket = f"len:{count}" if count <= 3 else "len:4-7" if count <= 7 else "len:8-15"
    out = [bucket if count <= 15 else "len:16+"]
    out.append("trade:yes" if any(word in TRADE_WORDS for word in words) else "trade:no")
    if words:
        out.extend(f"b:{a} {b}" for a, b in zip(["<s>", *words], [*words, "</s>"], strict=True))
    return out


def features(text: str) -> list[str]:
    """Every feature of ``text``, duplicates included (the caller decides how to count them)."""
    words = tokens(text)
    out = context_features(words)
    for word in words:
        out.extend(word_features(word))
    return out
