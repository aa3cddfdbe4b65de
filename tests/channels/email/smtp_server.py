"""A real SMTP server for the tests (aiosmtpd, in its own thread), recording every message it
accepts; it can be told to answer the next deliveries with an error code."""

from __future__ import annotations

import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    failures: deque[str] = field(default_factory=deque)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` messages with ``reply`` (``451 4.7.1 Try later``)."""
        with self.lock:
            self.failures.extend([reply] * times)

    logins: list[str] = field(default_factory=list)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        """The connection's SMTP login (``soporte`` / its password) is the only one accepted."""
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"soporte",
            b"smtp-password-for-tests",
        )
        if ok:
            self.logins.append(mechanism)
        return AuthResult(success=ok, auth_data=data)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.rcpt_tos]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.failures:
                reply = self.failures.popleft()
                self.refused.append(reply)
                return reply
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Ok: queued"


class SmtpServer:
    def __init__(self, port: int | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.recorder.authenticate,
            auth_require_tls=tls is not None,
            tls_context=tls,  # offered by STARTTLS
            require_starttls=tls is not None,
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
