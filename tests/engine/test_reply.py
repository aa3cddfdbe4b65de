"""Replies round-trip through their stored form, including ones stored before actions."""

from __future__ import annotations

import pytest

from frontdesk.engine.reply import Action, Link, QuickReply, Reply, ServiceCard


def test_round_trip() -> None:
    reply = Reply(
        text="Hola",
        language="es",
        intent="pricing",
        quick_replies=(QuickReply("Agendar", "cta:book-consultation"),),
        cards=(ServiceCard("seo", "SEO", "Más visitas", "desde $1"),),
        handoff=True,
        links=(Link("WhatsApp", "https://wa.me/573001234567"),),
        actions=(
            Action("handoff", {"reason": "asked"}),
            Action("transfer", {"channel": "whatsapp"}),
        ),
        decision={"agent": "handoff", "reasons": ["asked"]},
    )
    assert Reply.from_dict(reply.to_dict()) == reply
    assert reply.action("transfer") == Action("transfer", {"channel": "whatsapp"})
    assert reply.action("close") is None


def test_replies_stored_before_actions_still_read() -> None:
    old = {"text": "Hola", "language": "es", "intent": None, "quick_replies": [], "cards": []}
    reply = Reply.from_dict(old | {"handoff": False})
    assert (reply.links, reply.actions, reply.decision) == ((), (), None)
    assert "decision" not in reply.to_dict()


@pytest.mark.parametrize(
    "bad",
    [
        {"actions": [{"kind": "refund"}]},
        {"actions": [{"kind": "handoff", "data": []}]},
        {"links": [{"title": "x"}]},
        {"decision": "because"},
    ],
)
def test_malformed_replies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        Reply.from_dict({"text": "x", "language": "es", **bad})
    with pytest.raises(ValueError):  # noqa: PT011
        Action("refund")  # type: ignore[arg-type]
