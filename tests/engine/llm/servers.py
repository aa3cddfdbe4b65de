"""A local server that speaks the OpenAI chat-completions and the Anthropic Messages protocols.

It runs for real on 127.0.0.1 (uvicorn in a thread), records every request it receives and
answers from a script: each scripted step is a status, a JSON body (or raw text), headers and
an optional delay. With the script empty it answers a plain text completion.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.conftest import free_port


@dataclass
class Step:
    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def completion(
    content: str | None, tool_calls: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """An OpenAI chat completion with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
        **extra,
    }


def function_call(
    name: str, arguments: str | dict[str, Any], call_id: str = "call_1"
) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """An Anthropic Messages API response."""
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "test-model",
        "content": blocks,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 90, "output_tokens": 25},
    }


class FakeLLMServer:
    """The server, its script and what it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.script: deque[Step] = deque()
        self.requests: list[Recorded] = []
        app = FastAPI()

        async def answer(request: Request) -> Response:
            body = await request.json()
            self.requests.append(
                Recorded(request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
            )
            step = self.script.popleft() if self.script else None
            if step is None:
                default = (
                    message([{"type": "text", "text": "Hola."}])
                    if request.url.path.endswith("/messages")
                    else completion("Hola.")
                )
                return JSONResponse(default)
            if step.delay:
                await asyncio.sleep(step.delay)
            if step.text is not None:
                return Response(
                    step.text,
                    status_code=step.status,
                    headers=step.headers,
                    media_type="application/json",
                )
            return JSONResponse(step.json, status_code=step.status, headers=step.headers)

        app.post("/v1/chat/completions")(answer)
        app.post("/v1/messages")(answer)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self, *steps: Step) -> None:
        self.script.clear()
        self.script.extend(steps)
        self.requests.clear()

    def start(self) -> FakeLLMServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
