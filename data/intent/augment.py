"""Build ``train.csv`` and ``holdout.csv`` from the hand-written messages.

    python data/intent/augment.py            # rewrite both files
    python data/intent/augment.py --check    # exit 1 when the committed files are stale

Training messages are in ``sources/<label>.<lang>.txt``, held-out ones in
``holdout/<label>.<lang>.txt``, written separately: one message a line, ``#`` starts a comment
line. Each message gets phone-typing variants (accents and capitals dropped, a slip of the
finger, chat abbreviations, an emoji, a greeting in front): two for training, one for the
held-out set. A variant stays a message a person would type and a reader would label the same:
slips of the finger only in words of five letters or more, at most one per five words (none
in shorter messages) and never in the only word that could take one; no thanks or plea added
where it would change or repeat what the message says. The training set also gets the composed
messages of ``compose.py``. Every random choice is seeded by the message itself, so the output
is the same on every machine and adding a message changes no other message's variants.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from frontdesk.engine.intent.features import tokens
from frontdesk.engine.intent.labels import LABELS, LANGUAGES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compose import compose

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
HOLDOUT = HERE / "holdout"
LANGS = LANGUAGES
TRAIN_VARIANTS = 2
HOLDOUT_VARIANTS = 1
REQUESTS = frozenset(LABELS[:6])
SLIP_MIN_LETTERS = 5
"""A slip in a shorter word leaves the reader guessing ("sup" → "supp", "apps" → "paps")."""
WORDS_PER_SLIP = 5
"""At most one slip per this many words: in a shorter message the one or two words that say what
it is about would be the ones mangled ("precios" → "previos", "hacen apps" → "hacem paps")."""
MAX_SLIPS = 2

NEIGHBOURS = {
    "a": "qsz",
    "b": "vgn",
    "c": "xdv",
    "d": "sfe",
    "e": "wrd",
    "f": "dgr",
    "g": "fht",
    "h": "gjy",
    "i": "uok",
    "j": "hku",
    "k": "jli",
    "l": "kño",
    "m": "nj",
    "n": "bmh",
    "o": "ipl",
    "p": "oñ",
    "q": "wa",
    "r": "etf",
    "s": "adw",
    "t": "ryg",
    "u": "yij",
    "v": "cbf",
    "w": "qes",
    "x": "zc",
    "y": "tuh",
    "z": "xa",
}
SHORTHAND = {
    "es": [
        (r"\bque\b", "q"),
        (r"\bqué\b", "q"),
        (r"\bpor favor\b", "porfa"),
        (r"\bpor favor\b", "xfa"),
        (r"\bporque\b", "xq"),
        (r"\btambién\b", "tmb"),
        (r"\bpara\b", "pa"),
        (r"\bestá\b", "ta"),
        (r"\bquiero\b", "kiero"),
        (r"\bnecesito\b", "nesecito"),
        (r"\bcuánto\b", "cuanto"),
        (r"\bgracias\b", "grcs"),
        (r"\bmañana\b", "mñn"),
        (r"\bpágina\b", "pag"),
        (r"\bde\b", "d"),
    ],
    "en": [
        (r"\byou\b(?!')", "u"),
        (r"\byour\b", "ur"),
        (r"\bplease\b", "pls"),
        (r"\bplease\b", "plz"),
        (r"\bthanks\b", "thx"),
        (r"\bare\b", "r"),
        (r"\bwant to\b", "wanna"),
        (r"\bgoing to\b", "gonna"),
        (r"\bI'm\b", "im"),
        (r"\bdon't\b", "dont"),
        (r"\bwhat's\b", "whats"),
        (r"\bfor\b", "4"),
        (r"\bto\b", "2"),
        (r"\btomorrow\b", "tmrw"),
    ],
}
PREFIXES = {
    "es": ["hola, ", "hola ", "buenas, ", "buenas tardes, ", "quiubo, ", "holaa ", "buen día. "],
    "en": ["hi, ", "hi ", "hello, ", "hey ", "hey there, ", "good morning, "],
}
EMOJI = (" 🙏", " 😊", " 👍")
POLITE = {"es": (" porfa", " por favor", " pues"), "en": (" pls", " please")}
THANKS = {"es": (" gracias",), "en": (" thanks", " thx")}
# what may follow a message of each kind: a plea only after a request ("hola porfa" is no
# greeting), thanks only where thanks cannot change the label ("nope thx" is no longer `other`)
SUFFIXES = {
    lang: {
        **dict.fromkeys(REQUESTS, (*POLITE[lang], *THANKS[lang], *EMOJI, "!!")),
        "goodbye_thanks": (*THANKS[lang], *EMOJI, "!!"),
        "greeting": (*EMOJI, "!!"),
        "other": EMOJI,
    }
    for lang in LANGS
}
SAME_WORDS = [
    {"porfa", "porfis", "plis", "xfa", "por", "favor", "pls", "plz", "please"},
    {"gracias", "grasias", "grax", "grcs", "thanks", "thanx", "thnks", "thx", "thank", "ty"},
]
"""A suffix is not added to a message that already says it ("thx thx")."""


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    label: str
    lang: str
    source: str


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if not unicodedata.combining(char))
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_sources(*roots: Path) -> list[Message]:
    """Every hand-written message, refusing duplicates (across all roots) and unknown names."""
    messages: list[Message] = []
    seen: dict[str, str] = {}
    for path in sorted(p for root in roots for p in root.glob("*.txt")):
        label, lang = path.stem.rsplit(".", 1)
        if label not in LABELS or lang not in LANGS:
            raise SystemExit(f"{path.name}: not <label>.<lang>.txt")
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        texts = [line for line in lines if line and not line.startswith("#")]
        prefix = "" if path.parent == SOURCES else f"{path.parent.name}."
        for number, text in enumerate(sorted(texts, key=_digest)):
            key = fold(text.casefold())
            if key in seen:
                raise SystemExit(f"{path.name}: {text!r} already in {seen[key]}")
            seen[key] = f"{path.parent.name}/{path.name}"
            messages.append(Message(text, label, lang, f"{prefix}{label}.{lang}.{number:03d}"))
    return messages


def drop_accents(text: str) -> str:
    """Accents off, as typed in a hurry; ``ñ`` stays (it has its own key)."""
    return "".join(char if char in "ñÑ" else fold(char) for char in text)


def _bare(word: str) -> str:
    """A word as compared with the message's own: no punctuation around it, case and accents
    folded (dropping accents or capitals is not a slip)."""
    return fold(word.strip('¿¡?!.,;:"()').casefold())


def _slippable(word: str) -> bool:
    """Letters only (no prices, numbers, links) and at least :data:`SLIP_MIN_LETTERS` long."""
    return word.isalpha() and len(word) >= SLIP_MIN_LETTERS


def _slip(rng: random.Random, word: str) -> str:
    """One slip of the finger inside ``word`` (never its first letter): two letters swapped,
    one dropped, doubled, or a neighbouring key."""
    i = rng.choice([i for i, char in enumerate(word) if char.isalpha()][1:])
    char = word[i]
    kind = rng.randrange(4)
    if kind == 0 and i + 1 < len(word) and word[i + 1].isalpha():
        return word[:i] + word[i + 1] + char + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + char + word[i:]
    near = NEIGHBOURS.get(fold(char.lower()))
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word[:i] + char + word[i:]


def _slips(rng: random.Random, text: str, own: frozenset[str], count: int) -> str:
    """Up to ``count`` slips, each in a different word of the message's own (not one the
    shorthand made) that :func:`_slippable`."""
    words = text.split(" ")
    spots = [i for i, word in enumerate(words) if _bare(word) in own and _slippable(_bare(word))]
    for i in rng.sample(spots, k=min(count, len(spots))):
        words[i] = _slip(rng, words[i])
    return " ".join(words)


def _shorthand(rng: random.Random, text: str, lang: str) -> str:
    rules = [rule for rule in SHORTHAND[lang] if re.search(rule[0], text, re.IGNORECASE)]
    for pattern, replacement in rng.sample(rules, k=min(len(rules), rng.randint(1, 2))):
        text = re.sub(pattern, replacement, text, count=1, flags=re.IGNORECASE)
    return text


def _stretch(rng: random.Random, text: str, own: frozenset[str]) -> str:
    """The last word's last letter held down ("holaaa", "thanksss", "siii"), when it is a vowel,
    ``s`` or ``y`` of a word of the message's own, of three letters or more unless it is the
    message's only word: "supp" or "mñnnn" is a slip, and "to" held down is "too"."""
    body = text.rstrip("?!.")
    words = body.split(" ")
    last = words[-1]
    if (
        _bare(last) not in own
        or fold(last[-1:].lower()) not in set("aeiousy")
        or (len(_bare(last)) < 3 and len(words) > 1)
    ):
        return text
    return body + last[-1] * rng.randint(1, 3) + text[len(body) :]


def _suffix(rng: random.Random, text: str, choices: tuple[str, ...], own: frozenset[str]) -> str:
    said = {re.sub(r"(.)\1+", r"\1", word) for word in own | {_bare(w) for w in text.split()}}
    fresh = [
        choice
        for choice in choices
        if not any(
            said & same and {_bare(word) for word in choice.split()} & same for same in SAME_WORDS
        )
    ]
    return text + rng.choice(fresh)


def variant(message: Message, rng: random.Random) -> str:
    """One phone-typed rewrite of ``message``: a few noise operations, each by chance."""
    text, lang = message.text, message.lang
    own = frozenset(_bare(word) for word in text.split())
    words = sum(any(char.isalnum() for char in word) for word in text.split())  # not emoji
    # one word that can take a slip is always left whole: it may be all the message is about
    slips = min(MAX_SLIPS, words // WORDS_PER_SLIP, len({w for w in own if _slippable(w)}) - 1)
    steps: list[tuple[float, Callable[[str], str]]] = [
        (0.45, lambda t: _shorthand(rng, t, lang)),
        (0.6, drop_accents),
        (0.5, str.lower),
        (0.5, lambda t: t.replace("¿", "").replace("¡", "").rstrip("?.!") or t),
        (0.45 if slips else 0.0, lambda t: _slips(rng, t, own, 1)),
        (0.25 if slips > 1 else 0.0, lambda t: _slips(rng, t, own, 1)),
        (0.15, lambda t: _stretch(rng, t, own)),
        (0.25, lambda t: _suffix(rng, t, SUFFIXES[lang][message.label], own)),
    ]
    if message.label in REQUESTS and len(text) > 12:
        steps.append((0.35, lambda t: rng.choice(PREFIXES[lang]) + t[:1].lower() + t[1:]))
    for chance, step in steps:
        if rng.random() < chance:
            text = step(text)
    return " ".join(text.split())


def variants(message: Message, count: int) -> Iterator[str]:
    """Up to ``count`` variants that differ from the message and from each other in what the
    model reads (a change of case or accents alone would only repeat the message)."""
    rng = random.Random(_digest(f"{message.label}|{message.lang}|{message.text}"))  # noqa: S311
    seen = {tuple(tokens(message.text))}
    for _ in range(count * 6):
        text = variant(message, rng)
        key = tuple(tokens(text))
        if key not in seen:
            seen.add(key)
            yield text
            if len(seen) > count:
                return


def composed(written: set[str]) -> list[Message]:
    """The composed messages, one noisy rewrite in two, none repeating a written message."""
    messages = []
    for label in LABELS:
        for lang in LANGS:
            for n, text in enumerate(compose(label, lang)):
                message = Message(text, label, lang, f"compose.{label}.{lang}.{n:03d}")
                rng = random.Random(_digest(message.source))  # noqa: S311
                if rng.random() < 0.5:
                    message = Message(variant(message, rng), label, lang, message.source)
                if fold(message.text.casefold()) not in written:
                    messages.append(message)
    return messages


def render(messages: list[Message], count: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label", "lang", "source"])
    for message in messages:
        writer.writerow([message.text, message.label, message.lang, message.source])
        for text in variants(message, count):
            writer.writerow([text, message.label, message.lang, message.source])
    return buffer.getvalue()


def build() -> dict[str, str]:
    """File name → content of every generated file."""
    messages = read_sources(SOURCES, HOLDOUT)
    train = [m for m in messages if not m.source.startswith("holdout.")]
    holdout = [m for m in messages if m.source.startswith("holdout.")]
    written = {fold(m.text.casefold()) for m in messages}
    return {
        "train.csv": render(train, TRAIN_VARIANTS) + render(composed(written), 0).split("\n", 1)[1],
        "holdout.csv": render(holdout, HOLDOUT_VARIANTS),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name, content in build().items():
        path = HERE / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            path.write_text(content, encoding="utf-8")
            rows = content.count("\n") - 1
            print(f"{name}: {rows} rows")
    if stale:
        print(f"stale: {', '.join(stale)} (run python data/intent/augment.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
