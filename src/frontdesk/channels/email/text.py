"""An email's words, without what the customer did not write: HTML turned into text, quoted
replies and signatures cut, in Spanish and English.

Mail clients mark a reply in a few ways: an attribution line ("On … wrote:", "El … escribió:",
which Gmail may wrap over two lines), Outlook's "-----Original Message-----" or a header block
("From:/De:" followed by "Sent:/Enviado:", "To:/Para:", "Subject:/Asunto:"), and ``>`` lines;
signatures start at the "-- " delimiter or a client's tag ("Sent from my iPhone", "Enviado
desde mi …"). What is left is what the engine reads; when nothing is left (a message that is
all quote), the whole text is kept rather than lose it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

MAX_SOURCE: Final = 200_000
"""At most this many characters of a body are looked at."""

_ATTRIBUTION = re.compile(
    r"^\s*(?:on\s.{1,300}\swrote|el\s.{1,300}\sescribi[oó]|le\s.{1,300}\sa\s[ée]crit)\s*:\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|mensaje original|forwarded message|mensaje reenviado)"
    r"\s*-*\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|de)\s*:\*?\s+\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|enviado|date|fecha|to|para|subject|asunto|cc)\s*:", re.IGNORECASE
)
_UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")
_SIGNATURE = re.compile(
    r"^\s*(?:sent from my\s|sent from (?:outlook|mail|yahoo)|get outlook for\s"
    r"|enviado desde mi\s|enviado desde (?:outlook|correo|yahoo)|obtener outlook para\s"
    r"|enviado con\s|sent with\s)",
    re.IGNORECASE,
)


def strip_reply(text: str) -> str:
    """``text`` without the quoted message it answers and without its signature."""
    lines = text[:MAX_SOURCE].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    kept = kept[: _signature_start(kept)]
    result = "\n".join(line.rstrip() for line in kept).strip()
    return result or "\n".join(lines).strip()


def _quote_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            return index
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following and _ATTRIBUTION.match(f"{line} {following}"):
            return index  # an attribution wrapped over two lines
        if _UNDERSCORES.match(line) and any(
            _HEADER_FROM.match(x) for x in lines[index + 1 : index + 3]
        ):
            return index
        if _HEADER_FROM.match(line) and any(
            _HEADER_NEXT.match(x) for x in lines[index + 1 : index + 5]
        ):
            return index
    return len(lines)


def _signature_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if line in ("-- ", "--", "—") or _SIGNATURE.match(line):
            return index
    return len(lines)


_BLOCKS: Final = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "hr",
    }
)
_SKIPPED: Final = frozenset({"script", "style", "head", "title", "blockquote"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in _SKIPPED or (
            tag == "div" and ("gmail_quote" in classes or "moz-cite-prefix" in classes)
        ):
            self._skipping.append(tag)
            return
        if self._skipping:
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of an HTML body (quoted blocks, scripts and styles left out)."""
    parser = _Text()
    parser.feed(html[:MAX_SOURCE])
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
