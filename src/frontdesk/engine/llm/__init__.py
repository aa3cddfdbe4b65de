"""Language-model providers: grounded (offline, the default), OpenAI-compatible, Anthropic."""

from frontdesk.engine.llm.anthropic import AnthropicProvider
from frontdesk.engine.llm.base import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    LLMBadResponse,
    LLMError,
    LLMProvider,
    LLMRefused,
    LLMTimeout,
    LLMUnavailable,
    RejectedCall,
    ToolCall,
    Usage,
)
from frontdesk.engine.llm.draft import DRAFT_KINDS, Draft, DraftKind
from frontdesk.engine.llm.factory import build_provider, provider_for
from frontdesk.engine.llm.fallback import FallbackProvider
from frontdesk.engine.llm.grounded import GroundedProvider, service_cards, write
from frontdesk.engine.llm.http import RetryPolicy
from frontdesk.engine.llm.openai import OpenAIProvider
from frontdesk.engine.llm.prompt import build_request
from frontdesk.engine.llm.tools import TOOL_NAMES, TOOLS, check_calls

__all__ = [
    "DRAFT_KINDS",
    "TOOLS",
    "TOOL_NAMES",
    "AnthropicProvider",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Draft",
    "DraftKind",
    "FallbackProvider",
    "GroundedProvider",
    "LLMBadResponse",
    "LLMError",
    "LLMProvider",
    "LLMRefused",
    "LLMTimeout",
    "LLMUnavailable",
    "OpenAIProvider",
    "RejectedCall",
    "RetryPolicy",
    "ToolCall",
    "Usage",
    "build_provider",
    "build_request",
    "check_calls",
    "provider_for",
    "service_cards",
    "write",
]
