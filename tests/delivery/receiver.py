"""A tenant's webhook receiver for tests: a real HTTP server on 127.0.0.1 that verifies every
request with the official ``standardwebhooks`` library, records it, and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    verified: bool
    status: int
    at: float

    @property
    def type(self) -> str:
        return str(self.body["type"])


class Receiver:
    """``answer(...)`` scripts the next answers; ``down()``/``up()`` refuse connections a while."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.deliveries: list[Delivery] = []
        self.connections = 0
        self._plan: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answer(self, answer: Answer, times: int = 1) -> None:
        with self._lock:
            self._plan.extend([answer] * times)

    def _next(self) -> Answer:
        with self._lock:
            return self._plan.popleft() if self._plan else Answer()

    def _verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in list(self.secrets):
            try:
                Webhook(secret).verify(body.decode(), headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def accepted(self, event: str | None = None) -> list[Delivery]:
        """The verified deliveries answered with a 2xx (of ``event``, when given)."""
        with self._lock:
            done = [d for d in self.deliveries if d.verified and 200 <= d.status < 300]
        return [d for d in done if event is None or d.type == event]

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                with receiver._lock:
                    receiver.connections += 1
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = receiver._next()
                if answer.delay:
                    time.sleep(answer.delay)
                delivery = Delivery(
                    webhook_id=headers.get("webhook-id", ""),
                    body=json.loads(body or b"{}"),
                    headers=headers,
                    verified=receiver._verify(body, headers),
                    status=answer.status,
                    at=time.monotonic(),
                )
                with receiver._lock:
                    receiver.deliveries.append(delivery)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.down()
