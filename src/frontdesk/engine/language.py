"""Spanish/English detection for short chat messages, by marker words and character hints."""

from __future__ import annotations

import re
import unicodedata
from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SPANISH_WORDS: Final[dict[str, float]] = {
    **dict.fromkeys(
        _words(
            "hola ola holi buenas buenos gracias quiero kiero quisiera necesito nesecito "
            "necesitamos cuanto cuanta cuantos kuanto cuesta cuestan vale valen bale precio "
            "precios cotizacion cotizar pagina paginas tienda tiendas ayuda porfa porfavor porfis "
            "chao adios sumerce parce parcero quiubo quihubo qhubo ustedes usted tienen hacen "
            "ofrecen cobran muchas dias tardes noches saludos"
        ),
        2.0,
    ),
    **dict.fromkeys(
        _words(
            "q k que como sale salen cual cuales donde cuando quien porque xq pq por para el la "
            "los las del al de en es son un una unos unas y o con sin si mi mis tu tus su sus nos "
            "muy mas tambien tb tmb pero bien bn bueno buena listo claro perfecto ps pues oye vea "
            "hay esta estan estoy tengo tiene puedo pueden podria podrian hablar asesor asesora "
            "asesoria informacion servicio servicios empresa negocio diseno sitio redes vender "
            "venta ventas desarrollo posicionamiento aplicacion aplicaciones marca publicidad "
            "pauta mercadeo interesa interesado interesada ubicados ubicadas agendar cita reunion "
            "caro barato plata hacer hago crear montar mejor ya algo alguien nada todo eso este "
            "esto ese chevere bacano mijo mija veci hagamos cuenten cuentame digame dime ahi aca "
            "alla cuenta celular correo telefono horario direccion pensar pensarlo mucho mucha "
            "poco otra otro desde hasta sobre entre solo gratis nuevo nueva mismo misma semana "
            "mes meses"
        ),
        1.0,
    ),
}

_ENGLISH_WORDS: Final[dict[str, float]] = {
    **dict.fromkeys(
        _words(
            "hi hello hey thanks thank thx ty please pls plz how much price prices pricing cost "
            "costs want wanna need website websites quote goodbye bye"
        ),
        2.0,
    ),
    "page": 0.5,
    **dict.fromkeys(
        _words(
            "what whats which who where when why does do did is are was were the an of to for in "
            "on and or my your youre you u ur i im ive id we our us can could would will should "
            "shall get have has had with about from business company services service yes yeah "
            "yep sure good great morning afternoon evening night buy hire help looking look "
            "design it its this that these those hours call talk speak human agent person someone "
            "interested like know tell information more store shop build make create some any "
            "there just also but not dont doesnt cant isnt new own sell selling many long "
            "take offer offers located location address phone number cheap expensive later think "
            "busy myself friend nephew maybe month monthly week weeks be been let"
        ),
        1.0,
    ),
}

_SPANISH_SUFFIXES: Final[tuple[str, ...]] = (
    "cion",
    "ciones",
    "mente",
    "idad",
    "ando",
    "iendo",
    "amos",
    "emos",
    "ado",
    "ada",
    "ito",
    "ita",
)
_ENGLISH_SUFFIXES: Final[tuple[str, ...]] = ("ing", "tion", "ness", "ly", "ght", "ful")

_SPANISH_CHARS: Final[frozenset[str]] = frozenset("ñÑ¿¡áéíóúÁÉÍÓÚüÜ")
_TOKEN = re.compile(r"[a-z0-9]+")
_CONTRACTION = re.compile(r"[a-z]'(?:s|t|m|re|ve|ll|d)\b")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


KNOWN_WORDS: Final[frozenset[str]] = frozenset(_SPANISH_WORDS) | frozenset(_ENGLISH_WORDS)
"""Every marker word, accent-free and lowercase."""


def language_scores(text: str) -> tuple[float, float]:
    """Evidence for Spanish and for English in ``text``, as ``(spanish, english)``."""
    spanish = min(3.0, 1.5 * sum(char in _SPANISH_CHARS for char in text))
    english = min(2.0, 1.0 * len(_CONTRACTION.findall(text.casefold().replace("’", "'"))))
    for token in _TOKEN.findall(_fold(text)):
        es_weight = _SPANISH_WORDS.get(token, 0.0)
        en_weight = _ENGLISH_WORDS.get(token, 0.0)
        if es_weight or en_weight:
            spanish += es_weight
            english += en_weight
        elif len(token) >= 5:
            if token.endswith(_SPANISH_SUFFIXES):
                spanish += 0.5
            if token.endswith(_ENGLISH_SUFFIXES) or "th" in token:
                english += 0.5
    return spanish, english


def guess_language(text: str) -> str | None:
    """``"es"`` or ``"en"`` when ``text`` shows more evidence for one of them, else ``None``."""
    spanish, english = language_scores(text)
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None


def detect_language(text: str, *, default: str = "es") -> str:
    """The language of ``text`` (``"es"`` or ``"en"``); ``default`` when unknown or tied."""
    return guess_language(text) or default
