"""The phone-typing augmenter: its variants stay messages a reader would label the same."""

from __future__ import annotations

import importlib.util
import random
import re
import sys
from collections.abc import Callable
from types import ModuleType

import pytest

from frontdesk.engine.intent.features import tokens
from tests.engine.intent.conftest import DATA

SEEDS = range(300)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("intent_augment", DATA / "augment.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


augment = _load()


def _rewrites(text: str, label: str = "support", lang: str = "en") -> list[str]:
    message = augment.Message(text, label, lang, "test.000")
    return [augment.variant(message, random.Random(seed)) for seed in SEEDS]


def _squeezed(text: str) -> set[str]:
    """The words the model reads, stretched letters held once ("appss" → "aps"); punctuation and
    emoji left out (dropping them is no slip)."""
    return {re.sub(r"(.)\1+", r"\1", token) for token in tokens(text) if token.isalnum()}


@pytest.mark.parametrize(
    ("text", "label", "lang"),
    [
        ("precios", "pricing", "es"),
        ("hacen apps?", "product_info", "es"),
        ("un asesor porfa 🙏", "human_handoff", "es"),
        ("get me an agent", "human_handoff", "en"),
        ("sup", "greeting", "en"),
        ("cancel my plan", "support", "en"),
    ],
)
def test_a_message_under_five_words_keeps_every_word(text: str, label: str, lang: str) -> None:
    for rewrite in _rewrites(text, label, lang):
        assert _squeezed(text) <= _squeezed(rewrite), rewrite


def test_words_of_four_letters_or_fewer_never_slip() -> None:
    text = "my shop app went down last night and the site is also very slow now"
    short = _squeezed(" ".join(word for word in text.split() if len(word) <= 4))
    for rewrite in _rewrites(text):
        assert short <= _squeezed(rewrite), rewrite


def test_numbers_and_prices_are_never_touched() -> None:
    text = "can you send me the quote with 2 pages at $1.500.000 before friday morning"
    for rewrite in _rewrites(text, "pricing"):
        assert "1.500.000" in rewrite
        assert re.findall(r"\d", rewrite) == re.findall(r"\d", text), rewrite


def test_the_only_word_that_could_slip_is_left_whole() -> None:
    for rewrite in _rewrites("my website is down now and then"):
        assert "website" in rewrite.lower(), rewrite


@pytest.mark.parametrize(
    ("text", "most"),
    [
        ("hola, quiero cotizar una tienda", 1),
        ("hello, my online store stopped loading this morning", 1),
        ("buenas tardes, necesito saber cuánto cuesta una página web con tienda virtual", 2),
    ],
)
def test_at_most_one_slip_per_five_words(
    text: str, most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    slip: Callable[[random.Random, str], str] = augment._slip

    def counted(rng: random.Random, word: str) -> str:
        calls.append(word)
        return slip(rng, word)

    monkeypatch.setattr(augment, "_slip", counted)
    counts = []
    for seed in SEEDS:
        calls.clear()
        augment.variant(augment.Message(text, "pricing", "es", "test.000"), random.Random(seed))
        counts.append(len(calls))
        assert all(len(word.strip("¿¡?!.,")) >= augment.SLIP_MIN_LETTERS for word in calls)
    assert max(counts) == most
    # slips stay the exception, as on a phone: under one word in ten
    assert sum(counts) < len(counts) * len(text.split()) / 10


def test_thanks_and_pleas_are_not_added_where_they_change_or_repeat() -> None:
    thanks = {"thanks", "thx", "thank", "gracias", "grcs"}
    pleas = {"pls", "please", "porfa", "por", "favor"}
    for rewrite in _rewrites("ok thanks", "goodbye_thanks"):
        assert len(_squeezed(rewrite) & {"thanks", "thx"}) == 1, rewrite
    for text, lang in [("nope", "en"), ("no", "es"), ("jajaja", "es")]:
        for rewrite in _rewrites(text, "other", lang):
            assert not set(tokens(rewrite)) & (thanks | pleas), rewrite
    for rewrite in _rewrites("hola", "greeting", "es"):
        assert not set(tokens(rewrite)) & pleas, rewrite


def test_variants_differ_from_the_message_and_each_other_in_what_the_model_reads() -> None:
    for text in ["Hola, ¿cuánto vale una página web?", "Is the SEO plan monthly?", "Thanks!"]:
        message = augment.Message(text, "pricing", "es", "test.000")
        made = list(augment.variants(message, 2))
        assert made
        keys = [tuple(tokens(text)), *(tuple(tokens(rewrite)) for rewrite in made)]
        assert len(set(keys)) == len(keys), made


def test_variants_are_the_same_on_every_run() -> None:
    message = augment.Message("necesito cambiar el correo de la tienda", "support", "es", "x.000")
    assert list(augment.variants(message, 2)) == list(augment.variants(message, 2))
