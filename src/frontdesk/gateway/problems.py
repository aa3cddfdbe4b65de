"""Every HTTP error as RFC 9457 ``application/problem+json``: no trace, SQL or secret ever."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from frontdesk.errors import FrontDeskError

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("frontdesk.gateway")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    return "/".join(str(part) for part in loc)


async def _domain(request: Request, exc: FrontDeskError) -> Response:
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="frontdesk"')
    return problem(
        exc.status, exc.title, exc.detail, slug=exc.type_slug, headers=headers or None, **exc.extra
    )


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {"field": _pointer(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors()
    ]
    return problem(
        422,
        "Invalid request",
        "; ".join(f"{e['field']}: {e['message']}" for e in errors)[:1000],
        slug="validation-error",
        errors=errors,
    )


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request too large",
    415: "Unsupported media type",
}


async def _http(request: Request, exc: HTTPException) -> Response:
    title = _TITLES.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(
        exc.status_code,
        title,
        detail,
        slug=title.lower().replace(" ", "-"),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("gateway.unhandled_error", path=request.url.path)
    return problem(500, "Internal error", "an unexpected error occurred", slug="internal")


def install(app: FastAPI) -> None:
    app.add_exception_handler(FrontDeskError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
