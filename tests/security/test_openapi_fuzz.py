"""Schemathesis over the whole OpenAPI document of the real app: no request ever gets a 5xx.

The server is a real one (uvicorn in a thread, on a database of its own per backend): the
fuzzer's transport runs in a thread and event loop of its own, which the session's app and
runtime (bound to the test session's loop) cannot serve. Two examples in three carry valid
credentials — a secret key on ``/v1``, the operator's key on ``/v1/admin``, a publishable key and
a visitor token on ``/web`` (and a valid identity proof for any user in the body), a Standard
Webhooks signature on the API channel — and one in three of those also targets the tenant's own
conversation or a real tenant, so that generated input reaches the code behind authentication,
not only the gateway's refusals.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet

from frontdesk.app import create_app
from frontdesk.engine.packs import default_pack_dir, load_pack
from frontdesk.security.crypto import SecretBox
from frontdesk.security.keys import create_key
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import sign_request
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.owner import ensure_owner
from frontdesk.tenancy.repository import TenantTable
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, update_settings
from tests.conftest import LiveServer, fresh_database

SLUG = "fuzz"
TARGET = "fuzz-target"
"""The tenant the operator's routes are pointed at (never the fuzz tenant itself: a generated
settings change or suspension would end the run's access)."""
GENEROUS = {"tenant": 1_000_000, "key": 1_000_000, "visitor": 1_000_000}
CREDENTIALS = ["as generated", "valid", "valid, real objects"]


@dataclass(frozen=True)
class Seeded:
    secret_key: str
    publishable_key: str
    admin_key: str
    api_secret: str
    identity_secret: str


@dataclass(frozen=True)
class Server:
    url: str
    seeded: Seeded
    visitor_token: str
    conversation_id: str


async def _seed(settings: Settings) -> Seeded:
    """The fuzz tenant (limits no run reaches, its keys and secrets), the operator's key and a
    tenant for the operator's routes to act on."""
    db = Database(settings)
    box = SecretBox(settings.instance_key)
    try:
        await ensure_owner(db, settings)
        async with db.session() as session:
            owner = await TenantTable(session).by_slug(settings.owner_slug)
            assert owner is not None
            admin = await create_key(
                session, owner.id, kind="secret", name="ops", actor="test", scopes=["admin"]
            )
            tenant = await create_tenant(
                session,
                TenantCreate(slug=SLUG, name="Fuzz"),
                actor="test",
                pack=load_pack(default_pack_dir()),
            )
            await update_settings(session, tenant, {"rate_limits": GENEROUS}, actor="test")
            publishable = await create_key(
                session, tenant.id, kind="publishable", name="web", actor="test"
            )
            secret = await create_key(session, tenant.id, kind="secret", name="api", actor="test")
            api = await create_secret(session, box, tenant.id, purpose="api", actor="test")
            identity = await create_secret(
                session, box, tenant.id, purpose="identity", actor="test"
            )
            await create_tenant(session, TenantCreate(slug=TARGET, name="Target"), actor="test")
        return Seeded(secret.key, publishable.key, admin.key, api.value, identity.value)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def fuzz_server(
    backend: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real server on a database of its own, seeded, with a conversation that has messages."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with fresh_database(backend, tmp) as url:
        own = settings.model_copy(
            update={"database_url": url, "data_dir": tmp, "ip_flood_per_minute": 1_000_000}
        )
        seeded = asyncio.run(_seed(own))
        with LiveServer(own) as server:
            started = httpx.post(
                f"{server.url}/web/v1/{SLUG}/conversations",
                headers={"X-FrontDesk-Key": seeded.publishable_key},
                json={},
                timeout=10,
            )
            assert started.status_code == 200, started.text
            chat = started.json()
            sent = httpx.post(
                f"{server.url}/web/v1/{SLUG}/conversations/{chat['conversation']['id']}/messages",
                headers={"Authorization": f"Bearer {chat['visitor_token']}"},
                json={"text": "Hola"},
                timeout=10,
            )
            assert sent.status_code == 202, sent.text
            yield Server(server.url, seeded, chat["visitor_token"], chat["conversation"]["id"])


def _app_openapi() -> dict[str, Any]:
    """The app's OpenAPI document (building the app connects to nothing)."""
    with tempfile.TemporaryDirectory() as data_dir:
        offline = Settings(
            data_dir=Path(data_dir),
            redis_url=None,
            secret_key="openapi-only-" + "x" * 32,
            _env_file=None,  # type: ignore[call-arg]
        )
        return create_app(offline).openapi()


REF = re.compile(r'"\$ref": "#/([^"]*)"')


def _unresolved(document: dict[str, Any]) -> list[str]:
    """The local references of ``document`` that name nothing in it."""
    missing = []
    for pointer in sorted(set(REF.findall(json.dumps(document)))):
        node: Any = document
        for part in pointer.split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(f"#/{pointer}")
    return missing


def test_every_reference_in_the_openapi_document_resolves() -> None:
    """A client generated from the document (and the fuzzer below) needs every ``$ref`` to
    name something in it."""
    assert _unresolved(_app_openapi()) == []


schema = schemathesis.openapi.from_dict(_app_openapi())
schema.config.update(request_timeout=5)
# An event stream stays open: one event is enough (the conversation has a backlog).
schema.config.max_stream_events = 1


def _credential(case: schemathesis.Case, server: Server, real: bool) -> dict[str, Any]:
    """Put valid credentials into ``case`` (and, when ``real``, a real conversation or tenant);
    returns extra keyword arguments for the call."""
    seeded = server.seeded
    path = case.operation.path
    headers = dict(case.headers or {})
    parameters = dict(case.path_parameters or {})
    extra: dict[str, Any] = {}
    if path == "/v1/auth/token":
        if isinstance(case.body, dict):
            case.body["client_secret"] = seeded.secret_key
        else:
            basic = httpx.BasicAuth(SLUG, seeded.secret_key)
            request = next(basic.auth_flow(httpx.Request("POST", "/")))
            headers["authorization"] = request.headers["Authorization"]
    elif path.startswith("/v1/channels/"):
        parameters["tenant"] = SLUG
        if isinstance(case.body, NotSet):
            raw = b""
        elif isinstance(case.body, bytes):
            raw = case.body
        else:
            raw = json.dumps(case.body).encode()
        # Standard Webhooks signs text: bytes that are not UTF-8 go out unsigned.
        with contextlib.suppress(UnicodeDecodeError):
            headers.update(sign_request(seeded.api_secret, raw))
        headers["content-type"] = "application/json"
        extra["data"] = raw
    elif path.startswith("/v1/admin/"):
        headers["authorization"] = f"Bearer {seeded.admin_key}"
        if real and "slug" in parameters:
            parameters["slug"] = TARGET
    elif path.startswith("/v1/"):
        headers["authorization"] = f"Bearer {seeded.secret_key}"
        if real and "conversation_id" in parameters:
            parameters["conversation_id"] = server.conversation_id
    elif path.startswith("/web/"):
        parameters["tenant"] = SLUG
        if real and "conversation_id" in parameters:
            parameters["conversation_id"] = server.conversation_id
        headers["x-frontdesk-key"] = seeded.publishable_key
        headers["authorization"] = f"Bearer {server.visitor_token}"
        user = case.body.get("user") if isinstance(case.body, dict) else None
        if real and isinstance(user, dict) and isinstance(user.get("id"), str):
            user["proof"] = hmac.new(
                seeded.identity_secret.encode(), user["id"].encode(), hashlib.sha256
            ).hexdigest()
    case.headers = headers
    case.path_parameters = parameters
    return extra


@schema.parametrize()
@schema.given(credentials=st.sampled_from(CREDENTIALS))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(
    case: schemathesis.Case, credentials: str, fuzz_server: Server
) -> None:
    extra: dict[str, Any] = {}
    if credentials != "as generated":
        extra = _credential(case, fuzz_server, real=credentials == "valid, real objects")
    if case.operation.path.endswith("/events"):
        # A stream with nothing after ``after`` only sends pings: read it for a second, no more.
        extra["timeout"] = 1
    response = case.call(base_url=fuzz_server.url, **extra)
    case.validate_response(response, checks=[not_a_server_error])
