"""Any OpenAI-compatible ``/chat/completions`` server: OpenAI, Azure, Ollama, vLLM, llama.cpp.

The request: the instructions and the pack data as two system messages, then the
conversation (the customer's words only in user messages), ``tools`` as functions with
``tool_choice: auto`` when the request offers any. The answer: ``choices[0].message`` —
``content`` (a string, or a list of text parts) and ``tool_calls`` whose ``arguments`` are a
JSON string (an object is accepted too, as some servers send); missing fields are tolerated.
``base_url`` includes the version path (``https://api.openai.com/v1``,
``http://127.0.0.1:11434/v1``). OpenAI's own API is sent ``max_completion_tokens``, others the
``max_tokens`` every compatible server knows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from frontdesk.engine.llm.base import ChatRequest, ChatResult, LLMBadResponse, Usage
from frontdesk.engine.llm.http import HttpChatProvider, RetryPolicy, usage_counts
from frontdesk.engine.llm.tools import check_calls, definitions


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


class OpenAIProvider(HttpChatProvider):
    """Chat completions over HTTP (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_header: str = "authorization",
        temperature: float = 0.3,
        policy: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url.rstrip("/") + "/chat/completions", policy=policy, client=client)
        self._model = model
        self._api_key = api_key
        self._api_key_header = api_key_header
        self._temperature = temperature
        self._official = urlsplit(base_url).hostname == "api.openai.com"

    def __repr__(self) -> str:
        return f"OpenAIProvider(url={self.url!r}, model={self._model!r})"

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": request.instructions},
            {"role": "system", "content": request.pack_data},
            *({"role": m.role, "content": m.content} for m in request.messages),
        ]
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "temperature": self._temperature,
            "max_completion_tokens" if self._official else "max_tokens": request.max_tokens,
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters(request.pack),
                    },
                }
                for tool in definitions(request.tools)
            ]
            body["tool_choice"] = "auto"
        return body

    def headers(self) -> dict[str, str]:
        if not self._api_key:
            return {}
        if self._api_key_header == "api-key":
            return {"api-key": self._api_key}
        return {"authorization": f"Bearer {self._api_key}"}

    def parse(self, data: dict[str, Any], request: ChatRequest) -> ChatResult:
        """The result in a chat completion response ``data``."""
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise LLMBadResponse("the response has no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise LLMBadResponse("the response's choice has no message")
        proposed: list[tuple[str, Any, str | None]] = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            call_id = call.get("id") if isinstance(call.get("id"), str) else None
            proposed.append((str(function.get("name", "")), function.get("arguments"), call_id))
        legacy = message.get("function_call")
        if isinstance(legacy, dict):
            proposed.append((str(legacy.get("name", "")), legacy.get("arguments"), None))
        accepted, rejected = check_calls(proposed, pack=request.pack, allowed=request.tools)
        usage = usage_counts(data.get("usage"))
        return ChatResult(
            text=_text(message.get("content")).strip(),
            provider=self.name,
            tool_calls=accepted,
            rejected_calls=rejected,
            usage=Usage(
                input_tokens=usage.get("prompt_tokens", 0),
                output_tokens=usage.get("completion_tokens", 0),
            ),
        )
