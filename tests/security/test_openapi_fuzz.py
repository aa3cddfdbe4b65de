"""Schemathesis over the whole OpenAPI document of the real app: no request ever gets a 5xx.

The server is a real one (uvicorn in a thread, its own database per backend): the fuzzer's
transport runs in its own thread and event loop, which the session's app and runtime (bound to the
test session's loop) cannot serve. Half of the examples carry valid credentials — a secret key on
``/v1``, a publishable key and a visitor token on ``/web``, a Standard Webhooks signature on the
API channel, the tenant's own slug and conversation — so that generated input reaches the code
behind authentication, not only the gateway's refusals.
"""

from __future__ import annotations

import asyncio
import json
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
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant, update_settings
from tests.conftest import LiveServer, fresh_database

SLUG = "fuzz"
GENEROUS = {"tenant": 1_000_000, "key": 1_000_000, "visitor": 1_000_000}


@dataclass(frozen=True)
class Credentials:
    url: str
    secret_key: str
    publishable_key: str
    api_secret: str
    visitor_token: str
    conversation_id: str


async def _seed(settings: Settings) -> tuple[str, str, str]:
    """The fuzz tenant, with limits no run reaches, its keys and its API channel secret."""
    db = Database(settings)
    try:
        async with db.session() as session:
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
            api = await create_secret(
                session,
                SecretBox(settings.instance_key),
                tenant.id,
                purpose="api",
                actor="test",
            )
        return publishable.key, secret.key, api.value
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def fuzz_server(
    backend: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Credentials]:
    """A real server on a database of its own, seeded with one tenant and its credentials."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with fresh_database(backend, tmp) as url:
        own = settings.model_copy(
            update={"database_url": url, "data_dir": tmp, "ip_flood_per_minute": 1_000_000}
        )
        publishable, secret, api = asyncio.run(_seed(own))
        with LiveServer(own) as server:
            started = httpx.post(
                f"{server.url}/web/v1/{SLUG}/conversations",
                headers={"X-FrontDesk-Key": publishable},
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
            yield Credentials(
                url=server.url,
                secret_key=secret,
                publishable_key=publishable,
                api_secret=api,
                visitor_token=chat["visitor_token"],
                conversation_id=chat["conversation"]["id"],
            )


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document (building the app connects to nothing)."""
    with tempfile.TemporaryDirectory() as data_dir:
        offline = Settings(
            data_dir=Path(data_dir),
            redis_url=None,
            secret_key="openapi-only-" + "x" * 32,
            _env_file=None,  # type: ignore[call-arg]
        )
        return create_app(offline).openapi()


schema = schemathesis.openapi.from_dict(_openapi())
schema.config.update(request_timeout=5)
# An event stream that opens stays open: one event (the conversation has a backlog) is enough.
schema.config.max_stream_events = 1


def _credential(case: schemathesis.Case, creds: Credentials, conversation: bool) -> dict[str, Any]:
    """Put valid credentials (and, when asked, the tenant's real conversation) into ``case``;
    returns extra keyword arguments for the call."""
    path = case.operation.path
    if path == "/v1/auth/token":
        if isinstance(case.body, dict):
            case.body["client_secret"] = creds.secret_key
        else:
            case.headers = {**(case.headers or {}), "authorization": ""}
            basic = httpx.BasicAuth(SLUG, creds.secret_key)
            header = next(basic.auth_flow(httpx.Request("POST", "/"))).headers["Authorization"]
            case.headers["authorization"] = header
        return {}
    if path.startswith("/v1/channels/"):
        case.path_parameters = {**(case.path_parameters or {}), "tenant": SLUG}
        if isinstance(case.body, NotSet):
            return {}
        raw = json.dumps(case.body).encode()
        case.headers = {**(case.headers or {}), **sign_request(creds.api_secret, raw)}
        case.headers["content-type"] = "application/json"
        return {"data": raw}
    if path.startswith("/v1/"):
        case.headers = {**(case.headers or {}), "authorization": f"Bearer {creds.secret_key}"}
        return {}
    if path.startswith("/web/"):
        parameters = {**(case.path_parameters or {}), "tenant": SLUG}
        if conversation and "conversation_id" in parameters:
            parameters["conversation_id"] = creds.conversation_id
        case.path_parameters = parameters
        case.headers = {
            **(case.headers or {}),
            "x-frontdesk-key": creds.publishable_key,
            "authorization": f"Bearer {creds.visitor_token}",
        }
    return {}


@schema.parametrize()
@schema.given(credentials=st.sampled_from(["as generated", "valid", "valid, own conversation"]))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_no_request_gets_a_server_error(
    case: schemathesis.Case, credentials: str, fuzz_server: Credentials
) -> None:
    extra: dict[str, Any] = {}
    if credentials != "as generated":
        extra = _credential(case, fuzz_server, conversation=credentials.endswith("conversation"))
    response = case.call(base_url=fuzz_server.url, **extra)
    case.validate_response(response, checks=[not_a_server_error])
