"""The demo page at ``/``: chat with the owner tenant's assistant in a browser."""

from __future__ import annotations

import html
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from frontdesk.gateway.deps import RuntimeDep
from frontdesk.security.keys import publishable_key
from frontdesk.tenancy.repository import TenantTable

router = APIRouter(include_in_schema=False)
PAGE = files("frontdesk.gateway").joinpath("static/demo.html")


@router.get("/")
async def demo(rt: RuntimeDep) -> HTMLResponse:
    slug = rt.settings.owner_slug
    async with rt.db.session() as session:
        tenant = await TenantTable(session).by_slug(slug)
        key = await publishable_key(session, tenant.id) if tenant else None
        name = tenant.name if tenant else slug
    page = PAGE.read_text(encoding="utf-8")
    page = (
        page.replace("{{tenant}}", html.escape(slug))
        .replace("{{key}}", html.escape(key or ""))
        .replace("{{name}}", html.escape(name))
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
