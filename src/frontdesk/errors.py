"""The one error base of the domain; the gateway renders it as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class FrontDeskError(Exception):
    """A failure a client can be told about: an HTTP status, a stable title and a detail."""

    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra


class NotFound(FrontDeskError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(FrontDeskError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class Unauthorized(FrontDeskError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(FrontDeskError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Invalid(FrontDeskError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid"
