"""The allow-list of actions a provider may propose, with strict argument checking.

A provider only ever *proposes*: every tool call it returns goes through ``check_calls``, which
keeps the calls to tools offered in this request whose arguments validate (service ids must be
the pack's) and drops the rest with a reason. Dropped calls are recorded on the result and
logged (names and reasons only); they are never executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from frontdesk.engine.llm.base import RejectedCall, ToolCall
from frontdesk.engine.packs.schema import ContextPack

MAX_TOOL_CALLS: Final = 5

_Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$",
    ),
]
_Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()-]{6,19}$")
]
_ServiceId = Annotated[str, StringConstraints(max_length=64)]


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _known_services(value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    pack = (info.context or {}).get("pack")
    if not isinstance(pack, ContextPack):
        raise ValueError("service ids cannot be checked without the pack")
    known = {service.id for service in pack.services}
    unknown = [service_id for service_id in value if service_id not in known]
    if unknown:
        raise ValueError(f"unknown service id(s): {', '.join(unknown[:3])}")
    return tuple(dict.fromkeys(value))


class LeadArguments(_Arguments):
    """``create_or_update_lead``: what the customer told us about themselves."""

    name: _Name | None = None
    email: _Email | None = None
    phone: _Phone | None = None
    company: _Name | None = None
    service_ids: tuple[_ServiceId, ...] = Field(default=(), max_length=10)
    notes: Annotated[str, StringConstraints(max_length=500)] | None = None

    _services = field_validator("service_ids")(_known_services)

    @model_validator(mode="after")
    def _something(self) -> LeadArguments:
        if not any((self.name, self.email, self.phone, self.company, self.service_ids)):
            raise ValueError("a lead needs a name, email, phone, company or service")
        return self


class TransferArguments(_Arguments):
    """``transfer_channel``: carry the conversation to another channel."""

    channel: Literal["whatsapp"]
    reason: _Short | None = None


class HandoffArguments(_Arguments):
    """``handoff_to_human``: a person of the business takes over."""

    reason: _Short


class ScheduleArguments(_Arguments):
    """``schedule_meeting``: the customer wants a meeting; ``preferred_time`` as they said it."""

    preferred_time: _Short | None = None
    topic: _Short | None = None
    service_ids: tuple[_ServiceId, ...] = Field(default=(), max_length=10)

    _services = field_validator("service_ids")(_known_services)


class CloseArguments(_Arguments):
    """``close_conversation``: the conversation is over."""

    reason: Literal["resolved", "customer_left", "spam"]


class ShowServicesArguments(_Arguments):
    """``show_services``: show these services of the pack as cards."""

    service_ids: tuple[_ServiceId, ...] = Field(min_length=1, max_length=3)

    _services = field_validator("service_ids")(_known_services)


@dataclass(frozen=True, slots=True)
class Tool:
    """One allowed action: its name, what it is for, and its argument model."""

    name: str
    description: str
    arguments: type[_Arguments]

    def parameters(self, pack: ContextPack | None = None) -> dict[str, Any]:
        """The JSON schema of the arguments, as the providers' ``tools`` expect; with a
        ``pack``, service ids are listed as the only values allowed."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        schema.pop("description", None)
        for name, prop in schema.get("properties", {}).items():
            prop.pop("title", None)
            if name == "service_ids" and pack is not None:
                prop["items"]["enum"] = [service.id for service in pack.services]
        schema["additionalProperties"] = False
        return schema


TOOLS: Final[dict[str, Tool]] = {
    tool.name: tool
    for tool in (
        Tool(
            "create_or_update_lead",
            "Record or update the customer as a lead with the details they gave "
            "(only what they actually said).",
            LeadArguments,
        ),
        Tool(
            "transfer_channel",
            "Continue the conversation on another channel (only WhatsApp).",
            TransferArguments,
        ),
        Tool(
            "handoff_to_human",
            "Hand the conversation to a person of the business.",
            HandoffArguments,
        ),
        Tool(
            "schedule_meeting",
            "The customer asks for a meeting or consultation.",
            ScheduleArguments,
        ),
        Tool(
            "close_conversation",
            "The conversation is finished.",
            CloseArguments,
        ),
        Tool(
            "show_services",
            "Show up to three services of the catalog as cards, by their ids.",
            ShowServicesArguments,
        ),
    )
}
TOOL_NAMES: Final[tuple[str, ...]] = tuple(TOOLS)


def definitions(names: Iterable[str]) -> list[Tool]:
    """The tools of the allow-list named in ``names`` (unknown names are a programming error)."""
    return [TOOLS[name] for name in names]


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool arguments as a dict: servers send a JSON string (OpenAI) or an object (others)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError("arguments are not valid JSON") from exc
        if isinstance(parsed, dict):
            return parsed
    raise ValueError("arguments are not a JSON object")


def _reason(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    return f"invalid {where}: {first['msg']}"[:200]


def check_calls(
    calls: Iterable[tuple[str, Any, str | None]],
    *,
    pack: ContextPack,
    allowed: Iterable[str],
) -> tuple[tuple[ToolCall, ...], tuple[RejectedCall, ...]]:
    """Split proposed ``(name, raw arguments, id)`` calls into accepted and rejected ones."""
    offered = set(allowed)
    accepted: list[ToolCall] = []
    rejected: list[RejectedCall] = []
    for name, raw, call_id in calls:
        name = str(name)[:64]
        tool = TOOLS.get(name)
        if tool is None:
            rejected.append(RejectedCall(name, "not a tool of the allow-list"))
            continue
        if name not in offered:
            rejected.append(RejectedCall(name, "not offered in this request"))
            continue
        if len(accepted) >= MAX_TOOL_CALLS:
            rejected.append(RejectedCall(name, "too many tool calls"))
            continue
        try:
            arguments = parse_arguments(raw)
            model = tool.arguments.model_validate(
                _lists_to_tuples(arguments), context={"pack": pack}
            )
        except ValidationError as exc:
            rejected.append(RejectedCall(name, _reason(exc)))
            continue
        except ValueError as exc:
            rejected.append(RejectedCall(name, str(exc)[:200]))
            continue
        accepted.append(
            ToolCall(
                name=name, arguments=model.model_dump(mode="json", exclude_none=True), id=call_id
            )
        )
    return tuple(accepted), tuple(rejected)


def _lists_to_tuples(arguments: dict[str, Any]) -> dict[str, Any]:
    # JSON has arrays, the strict models have tuples.
    return {
        key: tuple(value) if isinstance(value, list) else value for key, value in arguments.items()
    }
