"""What every language-model provider speaks: the request, the result, the protocol, errors.

A ``ChatRequest`` keeps three things apart that a prompt must never mix: the *instructions*
(the system prompt, written by us), the *pack data* (an excerpt of the tenant's context pack,
sent as a separate data block) and the *conversation*, where the customer's words only ever
appear as user-role messages. It also carries the agent's structured ``Draft`` — what to say,
decided by the engine — which the grounded provider writes out and the others are asked to
phrase, and the pack itself, against which tool calls and the answer are checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import structlog

from frontdesk.engine.llm.draft import Draft
from frontdesk.engine.packs.schema import ContextPack, LanguageCode
from frontdesk.engine.reply import QuickReply

Role = Literal["user", "assistant"]


def logger() -> Any:
    """The providers' logger, looked up at each use so that the current configuration applies."""
    return structlog.get_logger("frontdesk.engine.llm")


MAX_MESSAGE_CHARS = 4000
MAX_MESSAGES = 40


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the conversation: ``user`` is the customer, ``assistant`` is us."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', not {self.role!r}")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything a provider needs for one answer (see the module docstring)."""

    pack: ContextPack
    draft: Draft
    instructions: str
    pack_data: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[str, ...] = ()
    max_tokens: int = 400

    @property
    def language(self) -> LanguageCode:
        """The language the answer must be in."""
        return self.draft.language


@dataclass(frozen=True, slots=True)
class ToolCall:
    """An action a provider proposes: a tool of the allow-list and its checked arguments."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedCall:
    """A proposed action that was dropped, and why; it is never executed."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a provider reports having read and written (zero when it does not say)."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A provider's answer: the text, the accepted tool calls, and how it came about.

    ``fallback_reason`` is set when the primary provider failed (or said something the pack
    does not) and the grounded provider answered instead; ``rejected_calls`` lists the tool
    calls that were dropped. ``quick_replies`` are suggested buttons (the grounded provider
    offers the pack's calls to action).
    """

    text: str
    provider: str
    tool_calls: tuple[ToolCall, ...] = ()
    rejected_calls: tuple[RejectedCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    quick_replies: tuple[QuickReply, ...] = ()
    fallback_reason: str | None = None


@runtime_checkable
class LLMProvider(Protocol):
    """Anything that answers a ``ChatRequest``."""

    name: str

    async def chat(self, request: ChatRequest) -> ChatResult:
        """Answer ``request``; raise ``LLMError`` when no answer can be had."""
        ...


class LLMError(Exception):
    """A provider gave no usable answer; ``reason`` is short, stable and safe to log."""

    reason = "error"

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class LLMTimeout(LLMError):
    """The provider did not answer in time (after its retries)."""

    reason = "timeout"


class LLMUnavailable(LLMError):
    """The provider kept failing (429, 5xx, connection errors) until the retries ran out."""

    reason = "unavailable"


class LLMRefused(LLMError):
    """The provider refused the request (401, 403, 400 …): retrying would not help."""

    reason = "refused"


class LLMBadResponse(LLMError):
    """The provider answered something that is not its protocol's response."""

    reason = "bad_response"
