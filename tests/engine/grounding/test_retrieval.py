"""BM25 retrieval over the Colombiatic pack, in Spanish and English, with typos and no accents."""

from __future__ import annotations

import time

import pytest

from frontdesk.engine.grounding import Retriever, faq_of, search
from frontdesk.engine.grounding.text import fold, stem, terms
from frontdesk.engine.packs import load_default_pack

PACK = load_default_pack()


@pytest.mark.parametrize(
    ("query", "language", "service"),
    [
        ("tienda virtual", "es", "online-store"),
        ("Tienda Virtual!!! 🛒", "es", "online-store"),
        ("tienda virtal", "es", "online-store"),
        ("posicionamiento en google", "es", "seo"),
        ("posisionamiento en gogle", "es", "seo"),
        ("how much is a logo", "en", "branding"),
        ("cuánto vale una página web", "es", "corporate-website"),
        ("cuanto vale una pajina web", "es", "corporate-website"),
        ("do you build mobile apps", "en", "mobile-apps"),
        ("aplicación móvil para mi negocio", "es", "mobile-apps"),
        ("publicidad en facebook e instagram", "es", "digital-advertising"),
        ("chatbot de whatsapp", "es", "chatbot-automation"),
        ("online store with payments", "en", "online-store"),
        ("search engine optimization", "en", "seo"),
        ("software a la medida", "es", "custom-software"),
        ("manejo de redes sociales", "es", "social-media"),
        ("mantenimiento de mi sitio", "es", "website-maintenance"),
        ("necesito hosting para mi pagina", "es", "hosting-domains"),
        ("dominio .com.co", "es", "hosting-domains"),
        ("tienda virtual", "en", "online-store"),  # Spanish words in an English conversation
    ],
)
def test_queries_find_their_service(query: str, language: str, service: str) -> None:
    hits = search(PACK, query, language, k=3)
    assert hits, query
    assert hits[0].service_id == service


def test_faq_hits_resolve_to_the_faq() -> None:
    [hit] = search(PACK, "¿puedo actualizar la página yo mismo?", "es", k=1, kinds=("faq",))
    assert hit.kind == "faq"
    assert hit.id == "corporate-website#faq-1"
    service, faq = faq_of(PACK, hit)
    assert service.id == "corporate-website"
    assert faq.question.es == "¿Podré actualizar la página yo mismo?"


@pytest.mark.parametrize(
    ("query", "language", "objection"),
    [
        ("uy, está muy caro", "es", "too-expensive"),
        ("that's too expensive for me", "en", "too-expensive"),
        ("mi sobrino me la hace", "es", "cheaper-freelancer"),
        ("I found someone on fiverr", "en", "cheaper-freelancer"),
        ("tuve una mala experiencia con otra agencia", "es", "bad-experience"),
    ],
)
def test_objections(query: str, language: str, objection: str) -> None:
    hits = search(PACK, query, language, k=1, kinds=("objection",))
    assert [hit.id for hit in hits] == [objection]


def test_nothing_relevant_gives_nothing() -> None:
    assert search(PACK, "", "es") == []
    assert search(PACK, "el la de que", "es") == []
    assert search(PACK, "zzzz qqqq", "en") == []
    assert search(PACK, "tienda", "es", k=0) == []


def test_scores_rank_and_k_bounds() -> None:
    hits = search(PACK, "página web tienda virtual seo", "es", k=50)
    assert len(hits) <= 50
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert len(search(PACK, "web", "es", k=1000)) <= 50


def test_index_cached_per_pack_object() -> None:
    retriever = Retriever(size=2)
    first = retriever.index(PACK, "es")
    assert retriever.index(PACK, "es") is first
    assert retriever.index(PACK, "fr") is first  # the pack's default language
    copy = PACK.model_copy(deep=True)
    assert retriever.index(copy, "es") is not first


def test_text_normalisation_and_stems() -> None:
    assert fold("¡Diseño WEB, ya! 🚀 Ñandú") == "diseno web ya nandu"
    assert stem("tiendas", "es") == stem("tienda", "es")
    assert stem("posicionamiento", "es") == stem("posicionar", "es") == "posicion"
    assert stem("aplicaciones", "es") == stem("aplicacion", "es")
    assert stem("corporativa", "es") == stem("corporativo", "es")
    assert stem("stores", "en") == stem("store", "en")
    assert stem("designing", "en") == stem("design", "en")
    assert stem("companies", "en") == "company"
    assert terms("¿Cuánto cuesta la tienda?", "es") == ["tiend"]
    assert terms("How much is the price of a logo", "en") == ["logo"]


def test_speed_report() -> None:
    """Not an assertion on time: prints the cost per query for the record."""
    search(PACK, "warm up", "es")
    queries = ["cuanto vale una pajina web para mi negocio", "how much is a logo", "tienda virtual"]
    start = time.perf_counter()
    for _ in range(200):
        for query in queries:
            search(PACK, query, "es", k=5)
    per_query = (time.perf_counter() - start) / 600
    print(f"\nretrieval: {per_query * 1e6:.0f} µs per query on the Colombiatic pack")
