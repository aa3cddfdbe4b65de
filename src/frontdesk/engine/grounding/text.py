"""Text for retrieval: folding, tokens, stop words and a light Spanish/English stemmer.

Folding lower-cases, removes accents (``diseño`` → ``diseno``) and keeps only letters and
digits, so punctuation and emoji disappear. The stemmer is deliberately light — a handful of
suffix rules per language, not Snowball — so that plurals, gender and the commonest verb and
noun endings meet (``tiendas``/``tienda``, ``posicionamiento``/``posicionar``,
``stores``/``store``, ``designing``/``design``) without pulling in a dependency:

* Spanish: ``-ciones``/``-cion`` → ``-cion``; ``-amiento``/``-imiento``, ``-mente``, the
  infinitive ``-ar``/``-er``/``-ir`` and the plural ``-es``/``-s`` are removed, then one final
  ``a``/``o``/``e``, on words long enough that a stem of at least four letters remains.
* English: ``-ies`` → ``-y``, ``-sses`` → ``-ss``, the plural ``-s`` (not ``-ss``, ``-us``,
  ``-is``), ``-ing``, ``-ed`` and ``-ly``, again keeping at least four letters.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TOKEN: Final = re.compile(r"[a-z0-9]+")
_MIN_STEM: Final = 4

STOP_WORDS: Final[dict[str, frozenset[str]]] = {
    "es": frozenset(
        _words(
            "a al algo algun alguna algunas alguno algunos ante antes aqui asi aun cada como con "
            "contra cual cuales de del desde donde dos e el ella ellas ellos en entre era es esa "
            "esas ese eso esos esta estan estas este esto estos estoy fue ha hay la las le les lo "
            "los mas me mi mis mucho muy nada ni no nos nosotros o otra otro para pero poco por "
            "porque que quien se sea ser si sin sobre son su sus tambien te tiene tienen tu tus u "
            "un una uno unos unas usted ustedes y ya yo hola porfa favor quiero quisiera necesito "
            "me gustaria puedo pueden podria cuanto cuanta cuantos cuesta cuestan vale valen "
            "valor precio precios costo costos tarifa tarifas sale salen cobran"
        )
    ),
    "en": frozenset(
        _words(
            "a about an and any are as at be been but by can could do does did for from get has "
            "have how i if in into is it its just me my of on or our please so some than that the "
            "their them then there these they this those to too us was we what when where which "
            "who why will with would you your hi hello hey want need like much many price prices "
            "pricing cost costs charge"
        )
    ),
}


def fold(text: str) -> str:
    """``text`` lower-cased, without accents; letters and digits separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_TOKEN.findall(plain))


def _strip(word: str, suffix: str, replacement: str = "") -> str | None:
    if word.endswith(suffix) and len(word) - len(suffix) + len(replacement) >= _MIN_STEM:
        return word[: len(word) - len(suffix)] + replacement
    return None


def _stem_es(word: str) -> str:
    for suffix, replacement in (("ciones", "cion"), ("amiento", ""), ("imiento", "")):
        stripped = _strip(word, suffix, replacement)
        if stripped is not None:
            return stripped
    if word.endswith("cion"):
        return word
    for suffix in ("mente", "ar", "er", "ir", "es", "s"):
        stripped = _strip(word, suffix)
        if stripped is not None:
            word = stripped
            break
    if word[-1] in "aoe" and len(word) - 1 >= _MIN_STEM:
        word = word[:-1]
    return word


def _stem_en(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("sses", "ss")):
        stripped = _strip(word, suffix, replacement)
        if stripped is not None:
            return stripped
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        stripped = _strip(word, "s")
        if stripped is not None:
            return stripped
    for suffix in ("ing", "ed", "ly"):
        stripped = _strip(word, suffix)
        if stripped is not None:
            return stripped
    return word


def stem(word: str, language: str) -> str:
    """The light stem of a folded ``word`` in ``language`` (``es`` or ``en``)."""
    if word.isdigit():
        return word
    return _stem_en(word) if language == "en" else _stem_es(word)


def terms(text: str, language: str) -> list[str]:
    """The stems of ``text``'s words in ``language``, stop words left out."""
    stop = STOP_WORDS.get(language, STOP_WORDS["es"])
    return [stem(word, language) for word in fold(text).split() if word not in stop]
