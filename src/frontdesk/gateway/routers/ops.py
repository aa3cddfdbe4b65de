"""Operations: liveness, readiness (database reachable, migrations current) and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from frontdesk.gateway.deps import RuntimeDep
from frontdesk.gateway.problems import problem
from frontdesk.store.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Readiness: the database answers and its schema is at the migrations' head."""
    try:
        async with asyncio.timeout(3):
            async with rt.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await current_revision(rt.db.engine)
    except Exception:
        return problem(503, "Not ready", "the database is unreachable", slug="not-ready")
    head = head_revision()
    if current != head:
        return problem(
            503, "Not ready", f"migrations not current ({current} != {head})", slug="not-ready"
        )
    return JSONResponse({"status": "ready", "database": "ok", "revision": current})


@router.get("/metrics", include_in_schema=False)
async def metrics(rt: RuntimeDep) -> Response:
    rt.metrics.stream_subscribers.set(rt.hub.subscriber_count)
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
