"""The demo page at ``/``: chat with the owner tenant's assistant in a browser."""

from __future__ import annotations

import html
import secrets
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from frontdesk.gateway.deps import RuntimeDep
from frontdesk.security.cors import security_headers
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
    nonce = secrets.token_urlsafe(16)
    page = (
        PAGE.read_text(encoding="utf-8")
        .replace("{{tenant}}", html.escape(slug))
        .replace("{{key}}", html.escape(key or ""))
        .replace("{{name}}", html.escape(name))
        .replace("{{nonce}}", nonce)
    )
    headers = {
        name.decode(): value.decode()
        for name, value in security_headers(
            html=True, tls=rt.settings.behind_tls, script_nonce=nonce
        )
    }
    return HTMLResponse(page, headers={"Cache-Control": "no-store", **headers})
