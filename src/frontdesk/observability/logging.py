"""structlog JSON logs carrying the request id, tenant and channel of the work in hand."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

SECRET_FIELDS = frozenset(
    {"authorization", "password", "secret", "token", "key", "api_key", "access_token", "cookie"}
)


_request: ContextVar[dict[str, Any] | None] = ContextVar("frontdesk_request", default=None)
"""The log context of the request in hand (its id, the client's address, then its tenant)."""


def begin_request(request_id: str, client_ip: str) -> None:
    """Start the log context of a request: one context variable set, where structlog's
    ``bind_contextvars`` sets one per key, and nothing left to clear from an earlier request
    (a server gives each request a context of its own; a test client runs them in one)."""
    _request.set({"request_id": request_id, "client_ip": client_ip})


def bind_request(**values: Any) -> None:
    """Add ``values`` to the request's log context (outside a request: structlog's)."""
    current = _request.get()
    if current is None:
        structlog.contextvars.bind_contextvars(**values)
    else:
        current.update(values)


def _merge_request(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The request's log context into ``event``, under what it holds already."""
    current = _request.get()
    if current:
        for key, value in current.items():
            event.setdefault(key, value)
    return event


def request_context() -> dict[str, Any]:
    """What the logs of the work in hand carry: the request's context and whatever was bound
    through structlog (which wins)."""
    return _merge_request(None, "", structlog.contextvars.get_contextvars())


def _redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for field in SECRET_FIELDS.intersection(event):
        event[field] = "[redacted]"
    return event


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Route structlog and the standard library through one JSON (or console) renderer."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _merge_request,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").handlers[:] = []
    logging.getLogger("uvicorn").handlers[:] = []


log = structlog.get_logger("frontdesk")
