"""The allow-list: strict arguments, pack service ids, nothing else gets through."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.engine.llm import TOOL_NAMES, TOOLS, check_calls
from frontdesk.engine.llm.tools import MAX_TOOL_CALLS
from frontdesk.engine.packs import load_default_pack

PACK = load_default_pack()


def one(name: str, arguments: Any) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    accepted, rejected = check_calls([(name, arguments, None)], pack=PACK, allowed=TOOL_NAMES)
    return [(c.name, c.arguments) for c in accepted], [c.reason for c in rejected]


def test_the_allow_list() -> None:
    assert set(TOOL_NAMES) == {
        "create_or_update_lead",
        "transfer_channel",
        "handoff_to_human",
        "schedule_meeting",
        "close_conversation",
        "show_services",
    }
    for tool in TOOLS.values():
        schema = tool.parameters(PACK)
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("name", "arguments", "accepted"),
    [
        (
            "create_or_update_lead",
            {"name": "Ana", "email": "ana@tienda.co"},
            {"name": "Ana", "email": "ana@tienda.co", "service_ids": []},
        ),
        (
            "create_or_update_lead",
            '{"phone": "+57 300 123 4567", "service_ids": ["seo"]}',
            {"phone": "+57 300 123 4567", "service_ids": ["seo"]},
        ),
        ("transfer_channel", {"channel": "whatsapp"}, {"channel": "whatsapp"}),
        (
            "schedule_meeting",
            {"preferred_time": "mañana a las 3"},
            {"preferred_time": "mañana a las 3", "service_ids": []},
        ),
        ("close_conversation", {"reason": "resolved"}, {"reason": "resolved"}),
        (
            "show_services",
            {"service_ids": ["seo", "seo", "branding"]},
            {"service_ids": ["seo", "branding"]},
        ),
    ],
)
def test_valid_calls(name: str, arguments: Any, accepted: dict[str, Any]) -> None:
    assert one(name, arguments) == ([(name, accepted)], [])


@pytest.mark.parametrize(
    ("name", "arguments", "reason"),
    [
        ("create_or_update_lead", {}, "a lead needs"),
        ("create_or_update_lead", {"email": "not-an-email"}, "invalid email"),
        ("create_or_update_lead", {"name": "x" * 101}, "invalid name"),
        ("transfer_channel", {"channel": "telegram"}, "invalid channel"),
        ("handoff_to_human", {}, "invalid reason"),
        ("close_conversation", {"reason": "bored"}, "invalid reason"),
        ("show_services", {"service_ids": []}, "invalid service_ids"),
        (
            "show_services",
            {"service_ids": ["seo", "branding", "mobile-apps", "online-store"]},
            "invalid service_ids",
        ),
        ("show_services", {"service_ids": ["seo"], "price": 99}, "invalid price"),
        ("show_services", {"service_ids": "seo"}, "invalid service_ids"),
        ("show_services", "[1, 2]", "not a JSON object"),
        ("show_services", "{", "not valid JSON"),
        ("exec", {}, "not a tool of the allow-list"),
    ],
)
def test_invalid_calls_are_dropped(name: str, arguments: Any, reason: str) -> None:
    accepted, rejected = one(name, arguments)
    assert accepted == []
    assert len(rejected) == 1
    assert reason in rejected[0]


def test_calls_are_bounded() -> None:
    calls = [("close_conversation", {"reason": "resolved"}, None)] * (MAX_TOOL_CALLS + 2)
    accepted, rejected = check_calls(calls, pack=PACK, allowed=TOOL_NAMES)
    assert len(accepted) == MAX_TOOL_CALLS
    assert [r.reason for r in rejected] == ["too many tool calls"] * 2
