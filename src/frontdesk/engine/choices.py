"""Quick replies coming back: a tapped button names a call to action or a service.

Buttons carry a payload (``cta:<id>``, ``service:<id>``) and a title. WhatsApp sends the payload
back (the inbound message's ``id``); the web chat sends the title as the message's text and the
payload beside it (the stored message's ``payload``), or the title alone from older clients. All
are read back here into a ``Choice`` — so tapping "Continuar por WhatsApp" is that call to
action, whatever the intent engine would make of the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from frontdesk.engine.grounding.cache import PackCache
from frontdesk.engine.grounding.text import fold
from frontdesk.engine.packs.schema import ContextPack
from frontdesk.engine.responder import short_name

_PAYLOAD: Final = re.compile(r"^(service|cta):([a-z0-9]+(?:-[a-z0-9]+)*)$")
_MAX_TITLE: Final = 80


@dataclass(frozen=True, slots=True)
class Choice:
    """A tapped button: ``kind`` ``cta`` (``value`` a call to action's kind) or ``service``
    (``value`` a service id)."""

    kind: Literal["cta", "service"]
    value: str


def _from_payload(pack: ContextPack, payload: str) -> Choice | None:
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    kind, value = match.groups()
    if kind == "service":
        known = any(service.id == value for service in pack.services)
        return Choice("service", value) if known else None
    cta = next((c for c in pack.strategies.calls_to_action if c.id == value), None)
    return Choice("cta", cta.kind) if cta is not None else None


def _titles(pack: ContextPack) -> dict[str, Choice]:
    titles: dict[str, Choice] = {}
    for cta in pack.strategies.calls_to_action:
        for label in (cta.label.es, cta.label.en):
            titles.setdefault(fold(label), Choice("cta", cta.kind))
    for service in pack.services:
        for name in (service.name.es, service.name.en):
            for title in (name, short_name(name)):
                titles.setdefault(fold(title), Choice("service", service.id))
    return titles


_TITLES: Final[PackCache[dict[str, Choice]]] = PackCache(_titles)


def resolve_choice(
    pack: ContextPack, text: str, payload: Mapping[str, Any] | None = None
) -> Choice | None:
    """The button the customer tapped, if this message is one (see the module docstring)."""
    for key in ("id", "payload"):
        value = (payload or {}).get(key)
        if isinstance(value, str):
            choice = _from_payload(pack, value)
            if choice is not None:
                return choice
    if len(text) > _MAX_TITLE:
        return None
    return _from_payload(pack, text) or _TITLES.get(pack).get(fold(text))
