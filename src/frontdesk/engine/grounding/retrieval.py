"""BM25 retrieval over a tenant's context pack: services, their FAQs and objections.

One index is built per pack and language and cached by the pack's identity (packs are
immutable and a tenant's context keeps the same pack object while it is cached). A document's
fields are weighted — a service's name and keywords count more than its description — and the
other language's text is indexed at half weight, so a visitor who mixes languages still finds
things. Query words of five letters or more that the pack never uses are matched to pack words
one edit away (a deletion, insertion, substitution or swap), at a discount.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from frontdesk.engine.grounding.cache import PackCache
from frontdesk.engine.grounding.text import fold, stem, terms
from frontdesk.engine.packs.schema import ContextPack, Faq, Localized, Objection, Service

HitKind = Literal["service", "faq", "objection"]
KINDS: Final[tuple[HitKind, ...]] = ("service", "faq", "objection")

_K1: Final = 1.2
_B: Final = 0.75
_OTHER_LANGUAGE: Final = 0.5
_TYPO_MIN_WORD: Final = 5
_TYPO_WEIGHT: Final = 0.7
_MAX_QUERY_CHARS: Final = 1000
_MAX_K: Final = 50
_CACHE_SIZE: Final = 64


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved piece of the pack.

    ``id`` is the service id, the objection id, or ``<service id>#faq-<n>`` for the n-th
    (0-based) FAQ of a service; ``service_id`` is set for services and FAQs; ``terms`` are the
    query stems that matched.
    """

    kind: HitKind
    id: str
    score: float
    service_id: str | None = None
    faq_index: int | None = None
    terms: tuple[str, ...] = ()


def faq_id(service_id: str, index: int) -> str:
    """The hit id of the ``index``-th FAQ of a service."""
    return f"{service_id}#faq-{index}"


@dataclass(frozen=True, slots=True)
class _Doc:
    kind: HitKind
    id: str
    service_id: str | None
    faq_index: int | None
    tf: dict[str, float]
    length: float


def _fields_service(service: Service) -> list[tuple[float, Localized | tuple[str, ...], str]]:
    # (weight, text, which language the plain tuple is in)
    return [
        (3.0, service.name, ""),
        (2.0, service.keywords.es, "es"),
        (2.0, service.keywords.en, "en"),
        (1.5, service.summary, ""),
        *((1.0, item, "") for item in service.includes),
        (1.0, service.description, ""),
    ]


def _fields_faq(service: Service, faq: Faq) -> list[tuple[float, Localized | tuple[str, ...], str]]:
    return [(2.0, faq.question, ""), (1.0, faq.answer, ""), (0.5, service.name, "")]


def _fields_objection(
    objection: Objection,
) -> list[tuple[float, Localized | tuple[str, ...], str]]:
    return [
        (2.0, objection.triggers.es, "es"),
        (2.0, objection.triggers.en, "en"),
        (1.0, objection.answer, ""),
    ]


def _bag(
    fields: Iterable[tuple[float, Localized | tuple[str, ...], str]], language: str
) -> tuple[dict[str, float], float]:
    tf: dict[str, float] = {}
    for weight, value, plain_language in fields:
        if isinstance(value, Localized):
            texts = [(value.es, "es"), (value.en, "en")]
        else:
            texts = [(" ".join(value), plain_language)]
        for text, text_language in texts:
            factor = weight if text_language == language else weight * _OTHER_LANGUAGE
            for term in terms(text, text_language):
                tf[term] = tf.get(term, 0.0) + factor
    return tf, sum(tf.values())


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class PackIndex:
    """The BM25 index of one pack in one language."""

    def __init__(self, pack: ContextPack, language: str) -> None:
        self.language = language
        docs: list[_Doc] = []
        for service in pack.services:
            tf, length = _bag(_fields_service(service), language)
            docs.append(_Doc("service", service.id, service.id, None, tf, length))
            for index, faq in enumerate(service.faqs):
                tf, length = _bag(_fields_faq(service, faq), language)
                docs.append(_Doc("faq", faq_id(service.id, index), service.id, index, tf, length))
        for objection in pack.strategies.objections:
            tf, length = _bag(_fields_objection(objection), language)
            docs.append(_Doc("objection", objection.id, None, None, tf, length))
        self._docs = tuple(docs)
        self._average = sum(doc.length for doc in docs) / max(len(docs), 1)
        postings: dict[str, list[int]] = {}
        for number, doc in enumerate(docs):
            for term in doc.tf:
                postings.setdefault(term, []).append(number)
        self._postings = {term: tuple(numbers) for term, numbers in postings.items()}
        total = len(docs)
        self._idf = {
            term: math.log(1 + (total - len(numbers) + 0.5) / (len(numbers) + 0.5))
            for term, numbers in self._postings.items()
        }
        near: dict[str, set[str]] = {}
        for term in self._postings:
            if len(term) >= _TYPO_MIN_WORD - 1 and not term.isdigit():
                for variant in _deletions(term) | {term}:
                    near.setdefault(variant, set()).add(term)
        self._near = {variant: tuple(sorted(words)) for variant, words in near.items()}

    def _expand(self, term: str, word: str) -> list[tuple[str, float]]:
        if term in self._postings:
            return [(term, 1.0)]
        if len(word) < _TYPO_MIN_WORD or word.isdigit():
            return []
        candidates: set[str] = set()
        for variant in _deletions(term) | {term}:
            candidates.update(self._near.get(variant, ()))
        return [(candidate, _TYPO_WEIGHT) for candidate in sorted(candidates)]

    def search(self, query: str, k: int = 5, *, kinds: Sequence[HitKind] = KINDS) -> list[Hit]:
        """The ``k`` best pieces of the pack for ``query``, best first (none scoring zero)."""
        k = max(0, min(k, _MAX_K))
        words = [
            word for word in fold(query[:_MAX_QUERY_CHARS]).split() if terms(word, self.language)
        ]
        weighted: dict[str, float] = {}
        for word in dict.fromkeys(words):
            for term, weight in self._expand(stem(word, self.language), word):
                weighted[term] = max(weighted.get(term, 0.0), weight)
        scores: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        for term, weight in weighted.items():
            idf = self._idf[term] * weight
            for number in self._postings[term]:
                doc = self._docs[number]
                if doc.kind not in kinds:
                    continue
                tf = doc.tf[term]
                norm = _K1 * (1 - _B + _B * doc.length / self._average)
                scores[number] = scores.get(number, 0.0) + idf * tf * (_K1 + 1) / (tf + norm)
                matched.setdefault(number, []).append(term)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [
            Hit(
                kind=self._docs[number].kind,
                id=self._docs[number].id,
                score=round(score, 6),
                service_id=self._docs[number].service_id,
                faq_index=self._docs[number].faq_index,
                terms=tuple(matched[number]),
            )
            for number, score in ranked
            if score > 0
        ]


class Retriever:
    """Every pack's indexes, built on first use and kept for the most recently used packs."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._indexes: PackCache[dict[str, PackIndex]] = PackCache(_indexes, size)

    def index(self, pack: ContextPack, language: str) -> PackIndex:
        """The index of ``pack`` in ``language`` (the pack's default when it lacks it)."""
        return self._indexes.get(pack)[pack.resolve_language(language)]

    def search(
        self,
        pack: ContextPack,
        query: str,
        language: str,
        k: int = 5,
        *,
        kinds: Sequence[HitKind] = KINDS,
    ) -> list[Hit]:
        """The ``k`` pieces of ``pack`` that best answer ``query`` in ``language``."""
        return self.index(pack, language).search(query, k, kinds=kinds)


def _indexes(pack: ContextPack) -> dict[str, PackIndex]:
    return {language: PackIndex(pack, language) for language in pack.languages}


retriever: Final = Retriever()
"""The process-wide retriever (indexes are pure functions of immutable packs)."""


search: Final = retriever.search
"""``search(pack, query, language, k=5, *, kinds=KINDS)``: the process-wide retriever's search."""


def faq_of(pack: ContextPack, hit: Hit) -> tuple[Service, Faq]:
    """The service and FAQ a ``faq`` hit stands for; ``KeyError`` when the pack has none."""
    if hit.kind != "faq" or hit.service_id is None or hit.faq_index is None:
        raise KeyError(hit.id)
    service = pack.service(hit.service_id)
    if not 0 <= hit.faq_index < len(service.faqs):
        raise KeyError(hit.id)
    return service, service.faqs[hit.faq_index]
