"""Anthropic's Messages API: ``POST {base_url}/v1/messages``.

The instructions and the pack data go as two text blocks of the top-level ``system``; the
conversation as alternating ``user``/``assistant`` messages starting with the customer (turns
of one role in a row are joined, an opening assistant turn is left out); tools as
``{name, description, input_schema}`` with ``tool_choice: {"type": "auto"}``. The answer's
``content`` blocks: ``text`` blocks make the text, ``tool_use`` blocks (``name``, ``input``)
are proposed tool calls. Headers: ``x-api-key`` and ``anthropic-version``.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from frontdesk.engine.llm.base import ChatMessage, ChatRequest, ChatResult, LLMBadResponse, Usage
from frontdesk.engine.llm.http import HttpChatProvider, RetryPolicy, usage_counts
from frontdesk.engine.llm.tools import check_calls, definitions

API_VERSION: Final = "2023-06-01"


def alternate(messages: tuple[ChatMessage, ...]) -> list[dict[str, str]]:
    """The conversation as the Messages API wants it: alternating roles, the customer first."""
    turns: list[dict[str, str]] = []
    for message in messages:
        if not turns and message.role == "assistant":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns


class AnthropicProvider(HttpChatProvider):
    """The Messages API over HTTP (see the module docstring)."""

    name = "anthropic"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.3,
        policy: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url.rstrip("/") + "/v1/messages", policy=policy, client=client)
        self._model = model
        self._api_key = api_key
        self._temperature = temperature

    def __repr__(self) -> str:
        return f"AnthropicProvider(url={self.url!r}, model={self._model!r})"

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""
        messages = alternate(request.messages)
        if not messages:
            raise LLMBadResponse("the Messages API needs a customer message")
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_tokens,
            "temperature": self._temperature,
            "system": [
                {"type": "text", "text": request.instructions},
                {"type": "text", "text": request.pack_data},
            ],
            "messages": messages,
        }
        if request.tools:
            body["tools"] = [
                {
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters(request.pack),
                }
                for tool in definitions(request.tools)
            ]
            body["tool_choice"] = {"type": "auto"}
        return body

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def parse(self, data: dict[str, Any], request: ChatRequest) -> ChatResult:
        """The result in a Messages API response ``data``."""
        content = data.get("content")
        if not isinstance(content, list):
            raise LLMBadResponse("the response has no content")
        texts: list[str] = []
        proposed: list[tuple[str, Any, str | None]] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_use":
                call_id = block.get("id") if isinstance(block.get("id"), str) else None
                proposed.append((str(block.get("name", "")), block.get("input"), call_id))
        accepted, rejected = check_calls(proposed, pack=request.pack, allowed=request.tools)
        usage = usage_counts(data.get("usage"))
        return ChatResult(
            text="".join(texts).strip(),
            provider=self.name,
            tool_calls=accepted,
            rejected_calls=rejected,
            usage=Usage(
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
            ),
        )
