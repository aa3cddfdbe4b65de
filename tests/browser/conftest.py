"""Real headless Chromium against a real Front Desk server, with the built SDK.

One server (embedded SQLite in a temporary directory, the owner tenant with its pack) and one
browser for the session; a browser context and page per test. Test pages are served by a small
static server on another port, so the SDK is loaded cross-origin as a site would load it; that
server is reachable as ``127.0.0.1`` (an origin the tenants allow) and as ``localhost`` (one they
do not). Without Chromium or the built SDK the tests are skipped, except in CI, where they fail.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from pydantic import SecretStr

from frontdesk.channels.connections import add_connection
from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.gateway.routers.sdk import SCRIPTS, default_sdk_dir
from frontdesk.security.crypto import SecretBox
from frontdesk.security.identity import hmac_proof
from frontdesk.security.keys import create_key
from frontdesk.security.secrets import create_secret
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, update_settings
from tests.conftest import IN_CI, LiveServer, free_port, fresh_database
from tests.factories import WHATSAPP_CREDENTIALS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WHATSAPP_NUMBER = "+57 300 123 4567"
VERIFIED_TENANT = "verified-shop"
TIMEOUT_MS = 15_000
"""How long a page may take to show what a test waits for (a loaded machine is slow)."""
expect.set_options(timeout=TIMEOUT_MS)
EVENTS = ("ready", "message", "typing", "status", "transfer", "connection", "error")


def require(condition: bool, reason: str) -> None:
    """Skip without ``condition``, but fail in CI, where the browser tests must run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


class PageServer:
    """Serves the test pages (``put`` one, then open its URL) on a port of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def put(self, path: str, html: str, *, host: str = "127.0.0.1") -> str:
        """Serve ``html`` at ``path``; its URL on ``host``."""
        self.pages[path] = html
        return f"{self.origin(host)}{path}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FrontDesk:
    """The running server, what the pages need to call it, and a server-side view of it."""

    url: str
    owner: str
    owner_key: str
    verified_key: str
    identity_secret: str
    secret_key: str
    integrity: dict[str, str]
    pages: PageServer

    def api(self) -> httpx.AsyncClient:
        """The owner tenant's server API (its secret key): what the server stored."""
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {self.secret_key}"}, timeout=10
        )

    async def stored_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self.api() as api:
            response = await api.get(f"/v1/conversations/{conversation_id}")
            assert response.status_code == 200, response.text
            messages: list[dict[str, Any]] = response.json()["messages"]
            return messages

    async def conversation_count(self) -> int:
        """How many conversations the owner tenant has."""
        count, cursor = 0, None
        async with self.api() as api:
            while True:
                params: dict[str, Any] = {"limit": 100}
                if cursor:
                    params["cursor"] = cursor
                page = (await api.get("/v1/conversations", params=params)).json()
                count += len(page["data"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return count

    def proof(self, user_id: str) -> str:
        return hmac_proof(self.identity_secret, user_id)

    def page(
        self,
        path: str,
        *,
        tenant: str | None = None,
        key: str | None = None,
        host: str = "127.0.0.1",
        head: str = "",
        body: str = "",
        options: dict[str, Any] | None = None,
        widget: dict[str, Any] | None = None,
        integrity: str | None = None,
    ) -> str:
        """A host page that loads the widget bundle with its SRI hash, creates a client whose
        events it records in ``window.fdEvents``, and mounts the widget (``window.fdWidget``)."""
        init = {
            "tenant": tenant or self.owner,
            "publishableKey": key or self.owner_key,
            "baseUrl": self.url,
            **(options or {}),
        }
        html = PAGE.format(
            head=head,
            body=body,
            src=f"{self.url}/sdk/v1/frontdesk.js",
            integrity=integrity or self.integrity["frontdesk.js"],
            init=json.dumps(init),
            widget=json.dumps({"open": False, **(widget or {})}),
            events=json.dumps(EVENTS),
        )
        return self.pages.put(path, html, host=host)


PAGE = """<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tienda de prueba</title>
{head}
</head>
<body>
<h1>Tienda de prueba</h1>
<p>Una página cualquiera de un cliente.</p>
{body}
<script src="{src}" integrity="{integrity}" crossorigin="anonymous"></script>
<script>
  window.fdEvents = [];
  if (window.FrontDesk) {{
    const client = FrontDesk.init({init});
    for (const name of {events}) {{
      client.on(name, (data) => window.fdEvents.push({{
        name, data: data instanceof Error ? {{message: data.message, code: data.code,
          status: data.status, type: data.type}} : data
      }}));
    }}
    window.fdClient = client;
    window.fdWidget = FrontDesk.widget.mount({{client, ...{widget}}});
  }}
</script>
</body>
</html>
"""


async def _prepare(settings: Settings, origin: str) -> dict[str, str]:
    """The tenants the pages use: the owner (allowing ``origin``, with a WhatsApp number) and
    one that requires verified users; keys and secrets, shown once, are returned."""
    box = SecretBox(settings.instance_key)
    db = Database(settings)
    try:
        async with db.session() as session:
            owner = await TenantTable(session).by_slug(settings.owner_slug)
            assert owner is not None
            await update_settings(session, owner, {"allowed_origins": [origin]}, actor="test")
            await add_connection(
                session,
                box,
                owner.id,
                kind="whatsapp",
                account_id="109876543210987",
                credentials=WHATSAPP_CREDENTIALS,
                options={"phone_number": WHATSAPP_NUMBER},
                actor="test",
            )
            owner_key = await create_key(
                session, owner.id, kind="publishable", name="pages", actor="test"
            )
            secret_key = await create_key(
                session,
                owner.id,
                kind="secret",
                name="checks",
                actor="test",
                scopes=["conversations:read"],
            )
            verified = await create_tenant(
                session,
                TenantCreate(slug=VERIFIED_TENANT, name="Verified shop"),
                actor="test",
                pack=load_pack(default_pack_dir()),
            )
            await session.flush()
            await update_settings(
                session,
                verified,
                {"allowed_origins": [origin], "identity_verification": "required"},
                actor="test",
            )
            verified_key = await create_key(
                session, verified.id, kind="publishable", name="pages", actor="test"
            )
            identity = await create_secret(
                session, box, verified.id, purpose="identity", actor="test"
            )
        return {
            "owner_key": owner_key.key,
            "secret_key": secret_key.key,
            "verified_key": verified_key.key,
            "identity_secret": identity.value,
        }
    finally:
        await db.dispose()


def _wait_for_origin(url: str, tenant: str, origin: str) -> None:
    """Until the server's tenant cache has the new settings (a preflight from ``origin``)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = httpx.options(
            f"{url}/web/v1/{tenant}/conversations",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        if answer.status_code == 204:
            return
        time.sleep(0.1)
    raise AssertionError(f"{tenant} never allowed {origin}")


@pytest.fixture(scope="session")
def frontdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontDesk]:
    """The server, its tenants and the page server, for the whole session."""
    dist = default_sdk_dir()
    require(
        all((dist / name).is_file() for name in SCRIPTS),
        "the JavaScript SDK is not built (make setup builds sdk/js)",
    )
    require(CHROMIUM.is_file(), f"{CHROMIUM} is missing (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("browser")
    with (
        fresh_database("sqlite", tmp) as url,
        PageServer() as pages,
    ):
        settings = Settings(
            database_url=url,
            data_dir=tmp,
            secret_key=SecretStr("browser-test-instance-key-" + "x" * 32),
            job_poll_seconds=0.05,
            sse_ping_seconds=1,
            _env_file=None,
        )
        with LiveServer(settings) as server:
            made = asyncio.run(_prepare(server.settings, pages.origin()))
            _wait_for_origin(server.url, settings.owner_slug, pages.origin())
            _wait_for_origin(server.url, VERIFIED_TENANT, pages.origin())
            manifest = httpx.get(f"{server.url}/sdk/v1/manifest.json").json()
            yield FrontDesk(
                url=server.url,
                owner=settings.owner_slug,
                owner_key=made["owner_key"],
                verified_key=made["verified_key"],
                identity_secret=made["identity_secret"],
                secret_key=made["secret_key"],
                integrity={name: entry["integrity"] for name, entry in manifest["files"].items()},
                pages=pages,
            )


@pytest.fixture(scope="session")
async def browser(frontdesk: FrontDesk) -> AsyncIterator[Browser]:
    """One headless Chromium (Debian's) for the session, driven from the session's event loop
    (the async API: the sync one would leave a running loop behind for the tests after it)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (storage, cookies) per test; ``window.open`` is recorded in
    ``window.fdOpened`` instead of opening anything."""
    context = await browser.new_context(locale="es-CO", viewport={"width": 1280, "height": 800})
    await context.add_init_script(
        "window.fdOpened = []; window.open = (url) => { window.fdOpened.push(String(url)); "
        "return null; };"
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
