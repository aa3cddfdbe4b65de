"""What a responder answers: text plus optional quick replies, service cards and a handoff flag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value


def _items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
        raise ValueError(f"{key!r} must be a list of objects")
    return list(value)


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A suggested answer button: ``title`` is shown, ``payload`` is sent back when tapped."""

    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {"title": self.title, "payload": self.payload}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuickReply:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        return cls(title=_text(data, "title"), payload=_text(data, "payload"))


@dataclass(frozen=True, slots=True)
class ServiceCard:
    """A compact presentation of one catalog service."""

    service_id: str
    title: str
    summary: str
    price_text: str

    def to_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {
            "service_id": self.service_id,
            "title": self.title,
            "summary": self.summary,
            "price_text": self.price_text,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceCard:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        return cls(
            service_id=_text(data, "service_id"),
            title=_text(data, "title"),
            summary=_text(data, "summary"),
            price_text=_text(data, "price_text"),
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """The assistant's answer to one visitor message."""

    text: str
    language: str
    intent: str | None = None
    quick_replies: tuple[QuickReply, ...] = ()
    cards: tuple[ServiceCard, ...] = ()
    handoff: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "text": self.text,
            "language": self.language,
            "intent": self.intent,
            "quick_replies": [reply.to_dict() for reply in self.quick_replies],
            "cards": [card.to_dict() for card in self.cards],
            "handoff": self.handoff,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        intent = data.get("intent")
        if intent is not None and not isinstance(intent, str):
            raise ValueError("'intent' must be a string or null")
        handoff = data.get("handoff", False)
        if not isinstance(handoff, bool):
            raise ValueError("'handoff' must be a boolean")
        return cls(
            text=_text(data, "text"),
            language=_text(data, "language"),
            intent=intent,
            quick_replies=tuple(
                QuickReply.from_dict(item) for item in _items(data, "quick_replies")
            ),
            cards=tuple(ServiceCard.from_dict(item) for item in _items(data, "cards")),
            handoff=handoff,
        )
