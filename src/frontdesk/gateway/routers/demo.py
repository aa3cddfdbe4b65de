"""The demo pages for the owner tenant: ``/``, the chat widget added with the SDK's snippet, and
``/examples/sdk``, the SDK used from a page's own code without the widget.

Both pages load the SDK from this server with its Subresource Integrity hash, under a strict
CSP (this origin's scripts and the page's one inline script, by nonce; ``connect-src 'self'``).
The browser calls the owner tenant from this same origin, which its CORS lets through without
listing it among the tenant's allowed origins.
"""

from __future__ import annotations

import html
import re
import secrets
from importlib.resources import files

import orjson
from fastapi import APIRouter
from starlette.responses import HTMLResponse

from frontdesk.gateway.deps import RuntimeDep
from frontdesk.gateway.routers.sdk import router as sdk_router
from frontdesk.gateway.routers.sdk import sdk_files
from frontdesk.runtime import Runtime
from frontdesk.security.cors import security_headers
from frontdesk.security.keys import publishable_key
from frontdesk.tenancy.repository import TenantTable

router = APIRouter(include_in_schema=False)
STATIC = files("frontdesk.gateway").joinpath("static")
_PLACEHOLDER = re.compile(r"\{\{(name|snippet|sdk|notice|config|nonce)\}\}")
NOT_BUILT = (
    '<p class="notice" role="alert">The JavaScript SDK is not built on this server: '
    "<code>make setup</code> builds it (<code>sdk/js</code>, Node 20+).</p>"
)


def _snippet(base_url: str, script: str, integrity: str, config: dict[str, object]) -> str:
    """The snippet a site pastes (``sdk/js/README.md``), with this server's values."""
    options = ", ".join(f"{name}: {orjson.dumps(value).decode()}" for name, value in config.items())
    return (
        "<script>\n"
        "  window.FrontDesk = window.FrontDesk || function () {\n"
        "    var f = { q: [] };\n"
        '    "init on off send identify transfer destroy mount".split(" ").forEach(function (m) {\n'
        "      f[m] = function () { f.q.push([m, arguments]); };\n"
        "    });\n"
        "    return f;\n"
        "  }();\n"
        f'  FrontDesk.init({{ {options}, baseUrl: "{base_url}" }});\n'
        "  FrontDesk.mount();\n"
        "</script>\n"
        f'<script async src="{base_url}{sdk_router.prefix}/{script}"\n'
        f'        integrity="{integrity}" crossorigin="anonymous"></script>'
    )


async def _page(rt: Runtime, template: str, *, script: str) -> HTMLResponse:
    """``template`` for the owner tenant, loading the SDK bundle ``script``."""
    slug = rt.settings.owner_slug
    async with rt.db.session() as session:
        tenant = await TenantTable(session).by_slug(slug)
        key = await publishable_key(session, tenant.id) if tenant else None
        name = tenant.name if tenant else slug
    nonce = secrets.token_urlsafe(16)
    config: dict[str, object] = {"tenant": slug, "publishableKey": key or ""}
    bundle = sdk_files(rt.settings).get(script)
    if bundle is None:
        sdk, notice, snippet = "", NOT_BUILT, ""
    else:
        # Loaded after the page's own script on the demo (async, as the snippet does), before
        # it on the example page, whose code uses the SDK at once.
        sdk = (
            f'<script {"async " if template == "demo.html" else ""}src="{sdk_router.prefix}/'
            f'{script}" integrity="{bundle.integrity}" crossorigin="anonymous"></script>'
        )
        notice = ""
        snippet = _snippet(rt.settings.base_url, script, bundle.integrity, config)
    # JSON inside a <script> element: "<" escaped, so no value can close the element.
    data = orjson.dumps(config).decode().replace("<", "\\u003c")
    values = {
        "name": html.escape(name),
        "snippet": html.escape(snippet),
        "sdk": sdk,
        "notice": notice,
        "config": data,
        "nonce": nonce,
    }
    # One pass, so a value that holds a placeholder is not filled in again.
    page = _PLACEHOLDER.sub(
        lambda found: values[found.group(1)],
        STATIC.joinpath(template).read_text(encoding="utf-8"),
    )
    headers = {
        header.decode(): value.decode()
        for header, value in security_headers(
            html=True, tls=rt.settings.behind_tls, script_nonce=nonce
        )
    }
    return HTMLResponse(page, headers={"Cache-Control": "no-store", **headers})


@router.get("/")
async def demo(rt: RuntimeDep) -> HTMLResponse:
    return await _page(rt, "demo.html", script="frontdesk.js")


@router.get("/examples/sdk")
async def sdk_example(rt: RuntimeDep) -> HTMLResponse:
    return await _page(rt, "example-sdk.html", script="frontdesk-core.js")
