"""What the engine answers: text, quick replies, service cards, links, and actions to apply.

Replies are stored as the outbound message's payload (``to_dict``) and read back with
``from_dict``, which also reads replies stored before links, actions and decisions existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args


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
class Link:
    """A link offered with the reply (a ``wa.me`` link, the company's site)."""

    title: str
    url: str

    def to_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {"title": self.title, "url": self.url}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Link:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        return cls(title=_text(data, "title"), url=_text(data, "url"))


MediaKind = Literal["image", "document", "video", "audio"]
MEDIA_KINDS: Final[tuple[MediaKind, ...]] = get_args(MediaKind)


@dataclass(frozen=True, slots=True)
class Media:
    """A file sent with the reply, by its public ``https`` URL (a brochure, a portfolio image)."""

    kind: MediaKind
    url: str
    caption: str = ""
    filename: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {self.kind!r}")
        if not self.url.startswith("https://") or len(self.url) > 2048:
            raise ValueError("a media URL is an https URL of at most 2048 characters")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "kind": self.kind,
            "url": self.url,
            "caption": self.caption,
            "filename": self.filename,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Media:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        filename = data.get("filename")
        if filename is not None and not isinstance(filename, str):
            raise ValueError("'filename' must be a string or null")
        caption = data.get("caption", "")
        if not isinstance(caption, str):
            raise ValueError("'caption' must be a string")
        kind = _text(data, "kind")
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unknown media kind {kind!r}")
        return cls(kind=kind, url=_text(data, "url"), caption=caption, filename=filename)


ActionKind = Literal["create_or_update_lead", "transfer", "handoff", "schedule", "close"]
ACTION_KINDS: Final[tuple[ActionKind, ...]] = get_args(ActionKind)


@dataclass(frozen=True, slots=True)
class Action:
    """Something the reply does besides speaking, applied when the reply is stored.

    * ``create_or_update_lead``: ``data`` holds the lead's details (score, stage, services …);
    * ``transfer``: continue on ``data["channel"]`` (``whatsapp``);
    * ``handoff``: a person of the business takes over (the bot stays silent until released);
    * ``schedule``: the customer wants a meeting (``data`` may name services, a preferred time);
    * ``close``: the conversation is over.
    """

    kind: ActionKind
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"kind": self.kind, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        """Inverse of ``to_dict``; raises ``ValueError`` on malformed data."""
        kind = _text(data, "kind")
        details = data.get("data", {})
        if not isinstance(details, Mapping):
            raise ValueError("'data' must be an object")
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {kind!r}")
        return cls(kind=kind, data=dict(details))


@dataclass(frozen=True, slots=True)
class Reply:
    """The assistant's answer to one visitor message.

    ``handoff`` is true when a person takes over (``conversations.service.append_reply`` then
    sets the conversation's status); it goes with a ``handoff`` action. ``decision`` is the
    router's decision and its reasons, stored with the reply so that it can be explained.
    """

    text: str
    language: str
    intent: str | None = None
    quick_replies: tuple[QuickReply, ...] = ()
    cards: tuple[ServiceCard, ...] = ()
    handoff: bool = False
    links: tuple[Link, ...] = ()
    actions: tuple[Action, ...] = ()
    decision: Mapping[str, Any] | None = None
    media: tuple[Media, ...] = ()

    def action(self, kind: ActionKind) -> Action | None:
        """The reply's first action of ``kind``, if any."""
        return next((action for action in self.actions if action.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        data: dict[str, Any] = {
            "text": self.text,
            "language": self.language,
            "intent": self.intent,
            "quick_replies": [reply.to_dict() for reply in self.quick_replies],
            "cards": [card.to_dict() for card in self.cards],
            "links": [link.to_dict() for link in self.links],
            "actions": [action.to_dict() for action in self.actions],
            "handoff": self.handoff,
        }
        if self.media:
            data["media"] = [item.to_dict() for item in self.media]
        if self.decision is not None:
            data["decision"] = dict(self.decision)
        return data

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
            links=tuple(Link.from_dict(item) for item in _items(data, "links")),
            actions=tuple(Action.from_dict(item) for item in _items(data, "actions")),
            decision=_decision(data),
            media=tuple(Media.from_dict(item) for item in _items(data, "media")),
        )


def _decision(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    decision = data.get("decision")
    if decision is not None and not isinstance(decision, Mapping):
        raise ValueError("'decision' must be an object or null")
    return dict(decision) if decision is not None else None
