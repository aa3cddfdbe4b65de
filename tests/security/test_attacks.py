"""The penetration test, as tests: attacks on the real app over HTTP, on SQLite and PostgreSQL.

Only what ``tests/gateway`` and the other ``tests/security`` modules do not already try; the full
list of cases, and where each is checked, is the table in ``docs/security.md``. Every request here
goes through a client that turns an unhandled error into a 500 response (instead of raising it
into the test), from an address of its own (so that the pre-auth flood limit, which counts per
address, is this test's alone). Families of similar attacks run as subtests of one test, which
reports each case that fails by name.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from sqlalchemy import func, select, text

from frontdesk.app import create_app
from frontdesk.conversations.models import Message
from frontdesk.runtime import Runtime
from frontdesk.security.keys import create_key, hash_key, rotate_key
from frontdesk.security.models import ApiKey, AuditEvent
from frontdesk.security.secrets import create_secret, rotate_secret
from frontdesk.security.signatures import sign_request
from frontdesk.security.tokens import ACCESS, VISITOR
from frontdesk.settings import Settings
from frontdesk.store.base import Base, utcnow
from frontdesk.store.scope import system_scope
from frontdesk.tenancy import service as tenants
from tests.factories import SampleTenant, make_secret_key, make_tenant, start_chat, wait_for_reply

PROBLEM = "application/problem+json"
SITE = "https://tienda.example.co"
GENEROUS = {"tenant": 100_000, "key": 100_000, "visitor": 100_000}


# ── helpers ──────────────────────────────────────────────────────────────────────────────────


def unique_address() -> str:
    """An IPv6 address in a /64 of its own (the flood limit counts an IPv6 client per /64)."""
    return f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}::7"


def client_for(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over HTTP: a 5xx is a response here, never an exception."""
    async with client_for(app, unique_address()) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM, response.headers
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body


def assert_refused_cleanly(response: httpx.Response, context: object = None) -> None:
    """Never a 5xx; a refusal is a problem document."""
    assert response.status_code < 500, (context, response.request.url, response.text[:300])
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, (context, response.headers)


async def configure(runtime: Runtime, tenant: SampleTenant, **changes: object) -> None:
    async with runtime.db.session() as session:
        row = await tenants.get_tenant(session, tenant.slug)
        await tenants.update_settings(session, row, changes, actor="test")


async def tenant_secret(runtime: Runtime, tenant: SampleTenant, purpose: str) -> str:
    async with runtime.db.session() as session:
        issued = await create_secret(
            session,
            runtime.box,
            tenant.context.id,
            purpose=purpose,  # type: ignore[arg-type]
            actor="test",
        )
    return issued.value


async def owner_admin_key(runtime: Runtime, scopes: Iterable[str] = ("admin",)) -> str:
    """A secret key of the owner tenant (the platform operator)."""
    async with runtime.db.session() as session:
        owner = await tenants.get_tenant(session, runtime.settings.owner_slug)
        issued = await create_key(
            session, owner.id, kind="secret", name="ops", actor="test", scopes=list(scopes)
        )
    return issued.key


async def access_token(http: httpx.AsyncClient, key: str) -> str:
    response = await http.post(
        "/v1/auth/token", data={"grant_type": "client_credentials", "client_secret": key}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def post_signed(
    http: httpx.AsyncClient,
    slug: str,
    body: bytes,
    headers: dict[str, str] | list[tuple[str, str]],
    content_type: str = "application/json",
) -> Awaitable[httpx.Response]:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    return http.post(
        f"/v1/channels/api/{slug}/messages",
        content=body,
        # As bytes: a header carries whatever a client sends, not only ASCII.
        headers=[
            (name, value.encode()) for name, value in [*pairs, ("content-type", content_type)]
        ],
    )


def api_body(contact: str = "crm-1", text_: str = "Hola", **extra: object) -> bytes:
    return json.dumps({"contact": {"id": contact}, "text": text_, **extra}).encode()


async def scalar(runtime: Runtime, query: Any) -> Any:
    """One value, read across tenants (as the operator would)."""
    async with runtime.db.session() as session, system_scope(session):
        return (await session.execute(query)).scalar_one()


async def messages_in(runtime: Runtime, conversation_id: str) -> int:
    query = select(func.count()).where(Message.conversation_id == uuid.UUID(conversation_id))
    return int(await scalar(runtime, query))


async def tenant_rows(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, int]:
    """How many rows the tenant has in each of the tenant tables."""
    counts: dict[str, int] = {}
    async with runtime.db.session() as session, system_scope(session):
        for table in Base.metadata.sorted_tables:
            if "tenant_id" in table.c:
                query = (
                    select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
                )
                counts[table.name] = int((await session.execute(query)).scalar_one())
    return counts


async def count_messages(runtime: Runtime, tenant: SampleTenant) -> int:
    return (await tenant_rows(runtime, tenant.context.id))["messages"]


async def audit_rows(runtime: Runtime, tenant_id: uuid.UUID | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
    if tenant_id is not None:
        query = query.where(AuditEvent.tenant_id == tenant_id)
    async with runtime.db.session() as session, system_scope(session):
        return list((await session.execute(query)).scalars())


def without(body: dict[str, Any], *ids: str) -> str:
    """The body as text with the given ids blanked, to compare refusals about different ids."""
    text_ = json.dumps(body, sort_keys=True)
    for id_ in ids:
        text_ = text_.replace(id_, "<id>")
    return text_


def fill(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with the placeholders named in ``ids`` replaced, at any depth."""
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, str):
        return ids.get(value, value)
    return value


# ── another tenant's ids, with a valid credential ────────────────────────────────────────────


async def test_another_tenants_conversation_is_indistinguishable_from_a_missing_one_on_v1(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """With an access token, and to the last byte of the body (the detail included) and the
    header names; the secret key's case, bar the detail, is tests/e2e/test_isolation.py."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    theirs = (await start_chat(http, b))["conversation"]["id"]
    token = await access_token(http, await make_secret_key(runtime, a))
    missing = str(uuid.uuid4())
    found = await http.get(f"/v1/conversations/{theirs}", headers=bearer(token))
    absent = await http.get(f"/v1/conversations/{missing}", headers=bearer(token))
    assert_problem(found, 404)
    assert_problem(absent, 404)
    assert without(found.json(), theirs) == without(absent.json(), missing)
    assert found.headers.keys() == absent.headers.keys()
    listed = await http.get("/v1/conversations", params={"limit": 100}, headers=bearer(token))
    assert theirs not in {c["id"] for c in listed.json()["data"]}


WEB_ROUTES = {
    "send": ("POST", "messages", {"text": "hola"}),
    "history": ("GET", "messages", None),
    "events": ("GET", "events", None),
}


@pytest.mark.parametrize("owner", ["another tenant", "another visitor"])
@pytest.mark.parametrize("route", sorted(WEB_ROUTES))
async def test_a_conversation_not_ones_own_is_indistinguishable_from_a_missing_one_on_web(
    http: httpx.AsyncClient, runtime: Runtime, route: str, owner: str
) -> None:
    a = await make_tenant(runtime)
    mine = await start_chat(http, a)
    other = await start_chat(http, await make_tenant(runtime) if owner == "another tenant" else a)
    theirs, missing = other["conversation"]["id"], str(uuid.uuid4())
    method, tail, body = WEB_ROUTES[route]

    async def call(conversation: str) -> httpx.Response:
        return await asyncio.wait_for(
            http.request(
                method,
                f"/web/v1/{a.slug}/conversations/{conversation}/{tail}",
                json=body,
                headers=bearer(mine["visitor_token"]),
            ),
            timeout=10,
        )

    found, absent = await call(theirs), await call(missing)
    assert_problem(found, 404)
    assert_problem(absent, 404)
    assert without(found.json(), theirs) == without(absent.json(), missing)
    assert await messages_in(runtime, theirs) == 0


async def test_another_tenants_cursor_pages_only_ones_own_conversations(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    for tenant in (a, b, a, b, b):
        await start_chat(http, tenant)
    key_a, key_b = await make_secret_key(runtime, a), await make_secret_key(runtime, b)
    page_b = await http.get("/v1/conversations", params={"limit": 1}, headers=bearer(key_b))
    cursor = page_b.json()["next_cursor"]
    assert cursor
    with_b_cursor = await http.get(
        "/v1/conversations", params={"limit": 100, "cursor": cursor}, headers=bearer(key_a)
    )
    assert with_b_cursor.status_code == 200
    own = await http.get("/v1/conversations", params={"limit": 100}, headers=bearer(key_a))
    assert {c["id"] for c in with_b_cursor.json()["data"]} <= {c["id"] for c in own.json()["data"]}


# ── tenant A's credentials on tenant B: by path, header, query or body ───────────────────────


async def test_naming_another_tenant_never_changes_the_v1_tenant(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    mine = (await start_chat(http, a))["conversation"]["id"]
    await start_chat(http, b)
    key = await make_secret_key(runtime, a)
    for params, headers in [
        ({"tenant": b.slug}, {}),
        ({"tenant_id": str(b.context.id)}, {}),
        ({"tid": str(b.context.id)}, {}),
        ({}, {"X-Tenant": b.slug, "X-Tenant-Id": str(b.context.id)}),
        ({}, {"X-FrontDesk-Key": b.publishable_key}),
    ]:
        response = await http.get(
            "/v1/conversations", params=params, headers={**bearer(key), **headers}
        )
        assert response.status_code == 200, (params, headers, response.text)
        assert [c["id"] for c in response.json()["data"]] == [mine], (params, headers)


async def test_the_token_endpoint_binds_the_token_to_the_keys_tenant_and_scopes(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The token request is OAuth 2 client credentials, whose server must ignore parameters it
    does not know (RFC 6749 §3.2): none of them may change the tenant or widen the scopes."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    key = await make_secret_key(runtime, a, scopes=["conversations:read"])
    forged = {
        "tenant_id": str(b.context.id),
        "tid": str(b.context.id),
        "tenant": b.slug,
        "client_id": b.slug,
        "scopes": ["conversations:write", "admin"],
        "kfam": str(uuid.uuid4()),
    }
    basic = base64.b64encode(f"{b.slug}:{key}".encode()).decode()
    for how in ("json", "form", "basic"):
        if how == "json":
            response = await http.post(
                "/v1/auth/token",
                json={"grant_type": "client_credentials", "client_secret": key, **forged},
            )
        elif how == "form":
            response = await http.post(
                "/v1/auth/token",
                data={"grant_type": "client_credentials", "client_secret": key, **forged},
            )
        else:
            response = await http.post(
                "/v1/auth/token",
                data={"grant_type": "client_credentials", **forged},
                headers={"Authorization": f"Basic {basic}"},
            )
        assert response.status_code == 200, (how, response.text)
        assert response.json()["scope"] == "conversations:read"
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["tid"] == str(a.context.id), how
        assert claims["scope"] == "conversations:read", how
        assert claims.get("kfam") != forged["kfam"], how
    widened = await http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "client_secret": key, "scope": "admin"},
    )
    assert_problem(widened, 422)


async def test_another_tenants_visitor_token_cannot_resume_send_or_stream(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    chat_a = await start_chat(http, a)
    conversation_a = chat_a["conversation"]["id"]
    token_a = chat_a["visitor_token"]
    resumed = await http.post(
        f"/web/v1/{b.slug}/conversations",
        headers={"X-FrontDesk-Key": b.publishable_key, **bearer(token_a)},
    )
    assert_problem(resumed, 401, "invalid-token")
    for method, url, body in [
        ("POST", f"/web/v1/{b.slug}/conversations/{conversation_a}/messages", {"text": "x"}),
        ("GET", f"/web/v1/{b.slug}/conversations/{conversation_a}/events", None),
    ]:
        by_header = await http.request(method, url, json=body, headers=bearer(token_a))
        assert_problem(by_header, 401, "invalid-token")
        by_query = await http.request(method, url, json=body, params={"token": token_a})
        assert_problem(by_query, 401, "invalid-token")
    assert await messages_in(runtime, conversation_a) == 0


async def test_a_secret_key_is_refused_on_browser_routes(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    key = await make_secret_key(runtime, tenant)
    chat = await start_chat(http, tenant)
    as_publishable = await http.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": key}
    )
    assert_problem(as_publishable, 403, "wrong-credential")
    as_visitor = await http.get(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        headers=bearer(key),
    )
    assert_problem(as_visitor, 401, "invalid-token")
    # Another tenant's secret key sent from a browser gets the same answer: whose it is, is
    # never looked up.
    other = await make_secret_key(runtime, await make_tenant(runtime))
    foreign = await http.post(
        f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": other}
    )
    assert foreign.json() == as_publishable.json()


# ── mass assignment ──────────────────────────────────────────────────────────────────────────

BROWSER_EXTRAS = {
    "start: tenant_id": {"tenant_id": "ID_B"},
    "start: contact_id": {"contact_id": "ID_CONTACT"},
    "start: verified": {"verified": True},
    "start: scopes": {"scopes": ["conversations:read"]},
    "start: user.verified": {"user": {"id": "u-1", "proof": "0" * 64, "verified": True}},
    "start: user.tenant_id": {"user": {"id": "u-1", "proof": "0" * 64, "tenant_id": "ID_B"}},
    "send: tenant_id": {"text": "hola", "tenant_id": "ID_B"},
    "send: conversation_id": {"text": "hola", "conversation_id": "ID_CONVERSATION"},
    "send: sender": {"text": "hola", "sender": "assistant"},
    "send: direction": {"text": "hola", "direction": "out"},
    "send: seq": {"text": "hola", "seq": 1},
    "send: status": {"text": "hola", "status": "sent"},
    "send: payload": {"text": "hola", "payload": {"handoff": True}},
}


async def test_extra_fields_in_browser_bodies_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    chat = await start_chat(http, a)
    other = await start_chat(http, a)
    conversation = chat["conversation"]["id"]
    ids = {
        "ID_B": str(b.context.id),
        "ID_CONTACT": other["contact_id"],
        "ID_CONVERSATION": other["conversation"]["id"],
    }
    for case, template in BROWSER_EXTRAS.items():
        with subtests.test(msg=case):
            before = (
                await tenant_rows(runtime, a.context.id),
                await tenant_rows(runtime, b.context.id),
            )
            if case.startswith("start"):
                response = await http.post(
                    f"/web/v1/{a.slug}/conversations",
                    json=fill(template, ids),
                    headers={"X-FrontDesk-Key": a.publishable_key},
                )
            else:
                response = await http.post(
                    f"/web/v1/{a.slug}/conversations/{conversation}/messages",
                    json=fill(template, ids),
                    headers=bearer(chat["visitor_token"]),
                )
            assert_problem(response, 422, "validation-error")
            after = (
                await tenant_rows(runtime, a.context.id),
                await tenant_rows(runtime, b.context.id),
            )
            assert after == before


API_EXTRAS = {
    "tenant_id": {"contact": {"id": "crm-1"}, "text": "hola", "tenant_id": "ID_B"},
    "conversation_id": {"contact": {"id": "crm-1"}, "text": "hola", "conversation_id": "ID_CONV"},
    "sender": {"contact": {"id": "crm-1"}, "text": "hola", "sender": "assistant"},
    "direction": {"contact": {"id": "crm-1"}, "text": "hola", "direction": "out"},
    "contact.tenant_id": {"contact": {"id": "crm-1", "tenant_id": "ID_B"}, "text": "hola"},
    "contact.verified": {"contact": {"id": "crm-1", "verified": True}, "text": "hola"},
    "contact.contact_id": {"contact": {"id": "crm-1", "contact_id": "ID_CONV"}, "text": "hola"},
}


async def test_extra_fields_in_signed_api_bodies_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """Even when signed by the tenant's own server."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    secret = await tenant_secret(runtime, a, "api")
    ids = {"ID_B": str(b.context.id), "ID_CONV": (await start_chat(http, a))["conversation"]["id"]}
    for case, template in API_EXTRAS.items():
        with subtests.test(msg=case):
            body = json.dumps(fill(template, ids)).encode()
            before = await tenant_rows(runtime, a.context.id)
            response = await post_signed(http, a.slug, body, sign_request(secret, body))
            assert_problem(response, 422)
            assert await tenant_rows(runtime, a.context.id) == before


ADMIN_EXTRAS = {
    "create: id": ("POST", "", {"slug": "SLUG", "name": "x", "id": "ID_B"}),
    "create: status": ("POST", "", {"slug": "SLUG", "name": "x", "status": "active"}),
    "create: pack": ("POST", "", {"slug": "SLUG", "name": "x", "pack": None}),
    "update: status": ("PATCH", "/B", {"status": "active"}),
    "update: slug": ("PATCH", "/B", {"slug": "colombiatic"}),
    "update: tenant_id": ("PATCH", "/B", {"tenant_id": "ID_B"}),
    "update: version": ("PATCH", "/B", {"version": 1}),
    "update: rate_limits.ip_flood": ("PATCH", "/B", {"rate_limits": {"ip_flood": 1}}),
}


async def test_extra_fields_in_operator_bodies_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    b = await make_tenant(runtime)
    admin = bearer(await owner_admin_key(runtime))
    for case, (method, tail, template) in ADMIN_EXTRAS.items():
        with subtests.test(msg=case):
            slug = f"t-{secrets.token_hex(4)}"
            before = await tenant_rows(runtime, b.context.id)
            response = await http.request(
                method,
                "/v1/admin/tenants" + tail.replace("/B", f"/{b.slug}"),
                json=fill(template, {"SLUG": slug, "ID_B": str(b.context.id)}),
                headers=admin,
            )
            assert_problem(response, 422)
            missing = await http.get(f"/v1/admin/tenants/{slug}", headers=admin)
            assert_problem(missing, 404)
            assert await tenant_rows(runtime, b.context.id) == before


# ── a publishable key on server routes; the operator's routes ───────────────────────────────


async def test_a_publishable_key_cannot_call_server_routes(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    conversation = (await start_chat(http, tenant))["conversation"]["id"]
    pk = tenant.publishable_key
    for url in ("/v1/conversations", f"/v1/conversations/{conversation}", "/v1/admin/tenants"):
        as_bearer = await http.get(url, headers=bearer(pk))
        assert_problem(as_bearer, 403, "wrong-credential")
        as_header = await http.get(url, headers={"X-FrontDesk-Key": pk})
        assert_problem(as_header, 401)
        assert as_header.headers["www-authenticate"].startswith("Bearer")
    basic = base64.b64encode(f"{tenant.slug}:{pk}".encode()).decode()
    for request in (
        {"data": {"grant_type": "client_credentials", "client_secret": pk}},
        {"json": {"grant_type": "client_credentials", "client_secret": pk}},
        {
            "data": {"grant_type": "client_credentials"},
            "headers": {"Authorization": f"Basic {basic}"},
        },
        {"data": {"grant_type": "client_credentials"}, "headers": {"X-FrontDesk-Key": pk}},
    ):
        response = await http.post("/v1/auth/token", **request)  # type: ignore[arg-type]
        assert_problem(response, 401)
        assert "access_token" not in response.text


async def test_a_narrowed_operator_token_cannot_administer(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The operator's key may mint a token for less; that token is held to what it was given.
    (Who else may not administer at all: tests/gateway/test_admin.py.)"""
    key = await owner_admin_key(runtime, scopes=["admin", "conversations:read"])
    assert (await http.get("/v1/admin/tenants", headers=bearer(key))).status_code == 200
    narrowed = await http.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_secret": key,
            "scope": "conversations:read",
        },
    )
    assert narrowed.status_code == 200, narrowed.text
    refused = await http.get("/v1/admin/tenants", headers=bearer(narrowed.json()["access_token"]))
    assert_problem(refused, 403, "insufficient-scope")


# ── forged and misused tokens, over HTTP ─────────────────────────────────────────────────────


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def _resign(token: str, *, claims: dict[str, Any] | None = None) -> str:
    """The token with ``claims`` changed, signed with an attacker's key under our ``kid``."""
    header, body = _parts(token)
    body.update(claims or {})
    header.pop("alg", None)
    attacker = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(body, attacker, algorithm="ES256", headers=header)


def _alg_none(token: str) -> str:
    header, body = _parts(token)
    return jwt.encode(body, None, algorithm="none", headers={**header, "alg": "none"})


def _hs256_with_our_public_key(token: str, runtime: Runtime) -> str:
    """The classic confusion: HMAC "signed" with the public key a verifier might hand HS256."""
    header, _ = _parts(token)
    pem = runtime.keyring.signing_key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    signing_input = f"{head}.{token.split('.')[1]}"
    return f"{signing_input}.{_b64(hmac.new(pem, signing_input.encode(), 'sha256').digest())}"


def _expired(runtime: Runtime, tokens: dict[str, str]) -> str:
    """Correctly signed with our own key, but expired a minute ago."""
    return runtime.tokens.issue(
        tokens["kind"],
        tenant_id=uuid.UUID(tokens["tid"]),
        subject=tokens["subject"],
        scopes=["conversations:read"],
        ttl=timedelta(seconds=-60),
    ).token


TOKEN_ATTACKS: dict[str, Callable[[Runtime, dict[str, str]], str]] = {
    "attacker key under our kid": lambda rt, t: _resign(t["own"]),
    "attacker key, another tenant": lambda rt, t: _resign(t["own"], claims={"tid": t["other"]}),
    "alg none": lambda rt, t: _alg_none(t["own"]),
    "hs256 with our public key": lambda rt, t: _hs256_with_our_public_key(t["own"], rt),
    "signature stripped": lambda rt, t: t["own"].rsplit(".", 1)[0] + ".",
    "payload of another token": lambda rt, t: ".".join(
        [t["own"].split(".")[0], t["misused"].split(".")[1], t["own"].split(".")[2]]
    ),
    "the other kind of token": lambda rt, t: t["misused"],
    "expired, our own key": _expired,
}
TOKEN_ROUTES = ["/v1 list", "/v1 detail", "web history", "web events ?token="]


@pytest.mark.parametrize("attack", sorted(TOKEN_ATTACKS))
async def test_forged_or_misused_tokens_are_refused_over_http(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests, attack: str
) -> None:
    """At the service level in tests/security/test_tokens.py; here, on the routes: an access
    token on a visitor route, a visitor token on /v1, forgeries on both."""
    tenant = await make_tenant(runtime)
    other = await make_tenant(runtime)
    chat = await start_chat(http, tenant)
    conversation = chat["conversation"]["id"]
    access = await access_token(http, await make_secret_key(runtime, tenant))
    visitor = chat["visitor_token"]
    for route in TOKEN_ROUTES:
        with subtests.test(msg=route):
            server = route.startswith("/v1")
            own = access if server else visitor
            forged = TOKEN_ATTACKS[attack](
                runtime,
                {
                    "own": own,
                    "misused": visitor if server else access,
                    "kind": ACCESS if server else VISITOR,
                    "tid": str(tenant.context.id),
                    "other": str(other.context.id),
                    "subject": _parts(own)[1]["sub"],
                },
            )
            web = f"/web/v1/{tenant.slug}/conversations/{conversation}"
            if route == "/v1 list":
                response = await http.get("/v1/conversations", headers=bearer(forged))
            elif route == "/v1 detail":
                response = await http.get(
                    f"/v1/conversations/{conversation}", headers=bearer(forged)
                )
            elif route == "web history":
                response = await http.get(f"{web}/messages", headers=bearer(forged))
            else:
                response = await asyncio.wait_for(
                    http.get(f"{web}/events", params={"token": forged}), timeout=10
                )
            assert_problem(response, 401, "invalid-token")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert forged not in response.text


# ── signed requests (the API channel) ────────────────────────────────────────────────────────


def _signed(secret: str, body: bytes, **changes: str) -> list[tuple[str, str]]:
    """Signed headers for ``body``, with the given ones (``webhook_id=…``) then replaced."""
    headers = sign_request(secret, body)
    headers.update({name.replace("_", "-"): value for name, value in changes.items()})
    return list(headers.items())


def _hmac_signed(secret: str, body: bytes, key: bytes, signed_text: str) -> list[tuple[str, str]]:
    """Headers whose signature is an HMAC under ``key`` of ``signed_text`` (``{id}``/``{ts}``
    are the headers' own) followed by the body: wrong keys and wrong signed content."""
    headers = sign_request(secret, body)
    prefix = signed_text.format(id=headers["webhook-id"], ts=headers["webhook-timestamp"])
    digest = hmac.new(key, prefix.encode() + body, hashlib.sha256).digest()
    headers["webhook-signature"] = "v1," + base64.b64encode(digest).decode()
    return list(headers.items())


def _raw_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def _signature(secret: str, body: bytes) -> str:
    return sign_request(secret, body)["webhook-signature"]


def _now() -> str:
    return str(int(utcnow().timestamp()))


SIGNATURE_CASES: dict[str, Callable[[str, bytes], list[tuple[str, str]]]] = {
    "timestamp not a number": lambda s, b: _signed(s, b, webhook_timestamp="1e9"),
    "timestamp negative": lambda s, b: _signed(s, b, webhook_timestamp="-1"),
    "timestamp with a fraction": lambda s, b: _signed(s, b, webhook_timestamp=_now() + ".5"),
    "timestamp in milliseconds": lambda s, b: _signed(s, b, webhook_timestamp=_now() + "000"),
    "timestamp huge": lambda s, b: _signed(s, b, webhook_timestamp="9" * 15),
    "timestamp overlong": lambda s, b: _signed(s, b, webhook_timestamp="9" * 400),
    "timestamp zero": lambda s, b: _signed(s, b, webhook_timestamp="0"),
    "signature without a version": lambda s, b: _signed(
        s, b, webhook_signature=_signature(s, b).split(",", 1)[1]
    ),
    "signature of another scheme only": lambda s, b: _signed(
        s, b, webhook_signature="v1a," + _signature(s, b).split(",", 1)[1]
    ),
    "signature blank": lambda s, b: _signed(s, b, webhook_signature="   "),
    "signature not canonical base64": lambda s, b: _signed(
        s, b, webhook_signature=_signature(s, b).rstrip("=") + "=="
    ),
    "signature truncated": lambda s, b: _signed(s, b, webhook_signature=_signature(s, b)[:-8]),
    "signature header overlong": lambda s, b: _signed(
        s, b, webhook_signature=" ".join([_signature(s, b)] * 60)
    ),
    "id with a space": lambda s, b: _signed(s, b, webhook_id="msg 1"),
    "id not ascii": lambda s, b: _signed(s, b, webhook_id="msg_ñ"),
    "id overlong": lambda s, b: _signed(s, b, webhook_id="m" * 256),
    "signature header repeated": lambda s, b: [
        *_signed(s, b),
        ("webhook-signature", "v1," + base64.b64encode(b"x" * 32).decode()),
    ],
    "timestamp header repeated": lambda s, b: [*_signed(s, b), ("webhook-timestamp", "1")],
    "hmac of the body alone": lambda s, b: _hmac_signed(s, b, _raw_key(s), ""),
    "hmac without the id": lambda s, b: _hmac_signed(s, b, _raw_key(s), "{ts}."),
    "secret string used as the key": lambda s, b: _hmac_signed(s, b, s.encode(), "{id}.{ts}."),
}


async def test_malformed_or_wrong_signature_headers_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """Beyond the cases of tests/gateway/test_api_channel.py (tampered body, another secret,
    stale, future, each header missing, a malformed signature, unsigned)."""
    tenant = await make_tenant(runtime)
    secret = await tenant_secret(runtime, tenant, "api")
    body = api_body()
    for case, build in SIGNATURE_CASES.items():
        with subtests.test(msg=case):
            response = await post_signed(http, tenant.slug, body, build(secret, body))
            assert_problem(response, 401, "invalid-signature")
    assert await count_messages(runtime, tenant) == 0
    # The same body, signed properly, is accepted: the cases failed for what they changed.
    accepted = await post_signed(http, tenant.slug, body, sign_request(secret, body))
    assert accepted.status_code == 202, accepted.text


async def test_a_body_that_is_not_utf8_is_refused(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    secret = await tenant_secret(runtime, tenant, "api")
    headers = sign_request(secret, api_body())
    response = await post_signed(http, tenant.slug, b'{"text": "\xff\xfe"}', headers)
    assert_problem(response, 401, "invalid-signature")


@pytest.mark.parametrize("minutes", [-10, 10])
async def test_a_captured_request_with_a_moved_timestamp_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, minutes: int
) -> None:
    """A request captured (or signed ahead) outside the tolerance is refused, and its timestamp
    cannot be brought back inside: the timestamp is part of what is signed."""
    tenant = await make_tenant(runtime)
    secret = await tenant_secret(runtime, tenant, "api")
    body = api_body()
    captured = sign_request(secret, body, timestamp=utcnow() + timedelta(minutes=minutes))
    as_captured = await post_signed(http, tenant.slug, body, captured)
    assert_problem(as_captured, 401, "invalid-signature")
    refreshed = {**captured, "webhook-timestamp": _now()}
    with_new_timestamp = await post_signed(http, tenant.slug, body, refreshed)
    assert_problem(with_new_timestamp, 401, "invalid-signature")
    assert await count_messages(runtime, tenant) == 0


async def test_a_reused_webhook_id_never_stores_a_second_message(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Requests signed again with an id already accepted and another body (a retry that
    changed, or a replay by someone holding the secret) keep the first message, at once or
    concurrently."""
    tenant = await make_tenant(runtime)
    secret = await tenant_secret(runtime, tenant, "api")
    first_body = api_body(text_="Primero")
    first = await post_signed(
        http, tenant.slug, first_body, sign_request(secret, first_body, msg_id="msg_fixed")
    )
    assert first.status_code == 202, first.text
    bodies = [api_body(text_=f"Otro {n}") for n in range(5)]
    replays = await asyncio.gather(
        *(
            post_signed(http, tenant.slug, body, sign_request(secret, body, msg_id="msg_fixed"))
            for body in bodies
        )
    )
    for replay in replays:
        assert replay.status_code in (202, 401), replay.text
        if replay.status_code == 202:
            assert replay.json()["duplicate"] is True
            assert replay.json()["id"] == first.json()["id"]
        else:
            assert_problem(replay, 401, "replayed-message")
    key = await make_secret_key(runtime, tenant)
    detail = await http.get(
        f"/v1/conversations/{first.json()['conversation_id']}", headers=bearer(key)
    )
    inbound = [m["text"] for m in detail.json()["messages"] if m["direction"] == "in"]
    assert inbound == ["Primero"]


# ── CORS ─────────────────────────────────────────────────────────────────────────────────────

LOOK_ALIKES = [
    "https://tienda.example.co.",
    "https://tіenda.example.co",  # a Cyrillic і
    "https://xn--tenda-n2e.example.co",  # the same, in punycode
    "https://tienda-example.co",
    "https://sub.tienda.example.co",
    "https://tienda.example.com",
    "https://tienda.example.co, https://evil.example",
    "https://evil.example https://tienda.example.co",
    " https://tienda.example.co",
    "https://tienda.example.co/path",
    "https://tienda.example.co#",
    "wss://tienda.example.co",
    "file://tienda.example.co",
    "https://",
    "https://*.example.co",
    "https://tienda.example.co:0",
]


async def test_origin_look_alikes_are_refused_and_never_reflected(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """Beyond the look-alikes of tests/gateway/test_browser_security.py; on the preflight, the
    start and the event stream (with a valid visitor token)."""
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, allowed_origins=[SITE])
    chat = await start_chat(http, tenant)
    base = f"/web/v1/{tenant.slug}/conversations"
    for origin in LOOK_ALIKES:
        with subtests.test(msg=origin):
            sent = origin.encode()  # as a client sends it: a header is bytes, not only ASCII
            for response in (
                await http.options(
                    base, headers={"Origin": sent, "Access-Control-Request-Method": "POST"}
                ),
                await http.post(
                    base, headers={"Origin": sent, "X-FrontDesk-Key": tenant.publishable_key}
                ),
                await http.get(
                    f"{base}/{chat['conversation']['id']}/events",
                    params={"token": chat["visitor_token"]},
                    headers={"Origin": sent},
                ),
            ):
                assert_problem(response, 403, "origin-not-allowed")
                assert "access-control-allow-origin" not in response.headers
                assert "access-control-allow-credentials" not in response.headers


async def test_an_equivalent_spelling_is_answered_with_the_configured_origin(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, allowed_origins=[SITE])
    for origin in ("HTTPS://TIENDA.EXAMPLE.CO", "https://tienda.example.co:443", SITE + "/"):
        with subtests.test(msg=origin):
            response = await http.post(
                f"/web/v1/{tenant.slug}/conversations",
                headers={"Origin": origin, "X-FrontDesk-Key": tenant.publishable_key},
            )
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == SITE


PREFLIGHTS = [
    ("PUT", "content-type"),
    ("DELETE", ""),
    ("PATCH", "content-type"),
    ("POST", "content-type, x-tenant-id"),
    ("POST", "cookie"),
    ("GET", "authorization, x-forwarded-for"),
]


async def test_a_preflight_for_unlisted_methods_or_headers_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, allowed_origins=[SITE])
    for method, headers in PREFLIGHTS:
        with subtests.test(msg=f"{method} {headers}"):
            response = await http.options(
                f"/web/v1/{tenant.slug}/conversations",
                headers={
                    "Origin": SITE,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": headers,
                },
            )
            assert_problem(response, 403, "origin-not-allowed")
            assert "access-control-allow-origin" not in response.headers


async def test_tenant_a_origin_is_refused_on_every_route_of_tenant_b(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Beyond the start route (tests/gateway/test_browser_security.py): preflight, send and
    history, with B's own valid visitor token."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    await configure(runtime, a, allowed_origins=[SITE])
    await configure(runtime, b, allowed_origins=["https://b.example"])
    chat = await start_chat(http, b)
    base = f"/web/v1/{b.slug}/conversations"
    conversation = chat["conversation"]["id"]
    for response in (
        await http.options(base, headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}),
        await http.post(
            f"{base}/{conversation}/messages",
            json={"text": "hola"},
            headers={"Origin": SITE, **bearer(chat["visitor_token"])},
        ),
        await http.get(
            f"{base}/{conversation}/messages",
            headers={"Origin": SITE, **bearer(chat["visitor_token"])},
        ),
    ):
        assert_problem(response, 403, "origin-not-allowed")
        assert "access-control-allow-origin" not in response.headers
    assert await messages_in(runtime, conversation) == 0


async def test_server_routes_never_answer_cross_origin_requests(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """``/v1`` is for servers: no CORS header at all, even for an origin some tenant allows, so
    no page can read a response."""
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, allowed_origins=[SITE])
    key = await make_secret_key(runtime, tenant)
    preflight = {
        "Origin": SITE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    for response in (
        await http.get("/v1/conversations", headers={"Origin": SITE, **bearer(key)}),
        await http.options("/v1/conversations", headers=preflight),
        await http.post(
            "/v1/auth/token",
            data={"grant_type": "client_credentials", "client_secret": key},
            headers={"Origin": SITE},
        ),
        await http.options("/v1/auth/token", headers=preflight),
        await http.options(f"/v1/channels/api/{tenant.slug}/messages", headers=preflight),
        await http.get("/v1/admin/tenants", headers={"Origin": SITE, **bearer(key)}),
        await http.get("/.well-known/jwks.json", headers={"Origin": SITE}),
    ):
        assert not any(name.startswith("access-control-") for name in response.headers), (
            response.request.url,
            response.headers,
        )


# ── rate limits: bursts at the boundary, and bypass attempts ─────────────────────────────────


def _statuses(responses: Iterable[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


@pytest.fixture
def one_window(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limiter's clock held still: a burst cannot straddle two of the fixed one-minute
    windows (where a second quota legitimately begins), so exactly one quota is counted."""
    now = runtime.limiter._clock()
    monkeypatch.setattr(runtime.limiter, "_clock", lambda: now)


@pytest.mark.usefixtures("one_window")
async def test_a_parallel_burst_on_v1_lets_exactly_the_key_quota_through(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Each request with a forged X-Forwarded-For of its own, for good measure."""
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, rate_limits={"key": 5})
    key = await make_secret_key(runtime, tenant)
    responses = await asyncio.gather(
        *(
            http.get(
                "/v1/conversations", headers={**bearer(key), "X-Forwarded-For": f"203.0.113.{n}"}
            )
            for n in range(25)
        )
    )
    assert _statuses(responses) == [200] * 5 + [429] * 20
    for response in responses:
        if response.status_code == 429:
            assert_problem(response, 429, "rate-limited")
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["ratelimit-remaining"] == "0"


@pytest.mark.usefixtures("one_window")
async def test_rotated_keys_and_their_tokens_share_one_quota_under_a_burst(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Sequentially in tests/gateway/test_credentials.py; here, all at once, with access
    tokens minted from both keys too."""
    tenant = await make_tenant(runtime)
    old = await make_secret_key(runtime, tenant)
    key_id = await scalar(runtime, select(ApiKey.id).where(ApiKey.key_hash == hash_key(old)))
    async with runtime.db.session() as session:
        new = (
            await rotate_key(
                session, tenant.context.id, key_id, overlap=timedelta(hours=1), actor="test"
            )
        ).key
    credentials = [old, new, await access_token(http, old), await access_token(http, new)]
    await configure(runtime, tenant, rate_limits={"key": 6})
    responses = await asyncio.gather(
        *(http.get("/v1/conversations", headers=bearer(c)) for c in credentials * 6)
    )
    assert _statuses(responses) == [200] * 6 + [429] * 18


@pytest.mark.usefixtures("one_window")
async def test_more_secret_keys_do_not_lift_the_tenant_quota(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    keys = [await make_secret_key(runtime, tenant) for _ in range(4)]
    await configure(runtime, tenant, rate_limits={"key": 100, "tenant": 6})
    responses = await asyncio.gather(
        *(http.get("/v1/conversations", headers=bearer(k)) for k in keys * 6)
    )
    assert _statuses(responses) == [200] * 6 + [429] * 18
    refused = next(r for r in responses if r.status_code == 429)
    assert "tenant" in refused.json()["detail"]


@pytest.mark.parametrize("proxies", ["none trusted", "behind a trusted proxy"])
async def test_a_forged_x_forwarded_for_does_not_escape_the_pre_auth_flood_limit(
    settings: Settings, runtime: Runtime, proxies: str
) -> None:
    """The flood limit counts the client's address as the last trusted hop saw it: what a
    client writes into X-Forwarded-For itself never counts."""
    trusted = ["10.0.0.0/8"] if proxies == "behind a trusted proxy" else []
    app = create_app(
        settings.model_copy(update={"ip_flood_per_minute": 5, "trusted_proxies": trusted}),
        runtime=runtime,
    )
    client = f"198.51.100.{secrets.randbelow(250) + 1}"
    peer = "10.9.8.7" if trusted else unique_address()

    def forwarded(n: int) -> str:
        # What the client forged, then (behind the proxy) what the proxy appended.
        forged = f"203.0.113.{n}, 192.0.2.{n}"
        return f"{forged}, {client}" if trusted else forged

    async with client_for(app, peer) as http:
        statuses = [
            (await http.get("/healthz", headers={"X-Forwarded-For": forwarded(n)})).status_code
            for n in range(8)
        ]
        assert statuses == [200] * 5 + [429] * 3
        limited = await http.get("/healthz", headers={"X-Forwarded-For": forwarded(99)})
        assert_problem(limited, 429, "rate-limited")
        if trusted:
            # Another client behind the same proxy has a quota of its own.
            other = await http.get("/healthz", headers={"X-Forwarded-For": "198.51.100.251"})
            assert other.status_code == 200


# ── bodies: oversized, deeply nested, wrong content types ────────────────────────────────────

BODY_ROUTES = ["start", "send", "api", "token"]


async def _routes(http: httpx.AsyncClient, runtime: Runtime) -> dict[str, Any]:
    tenant = await make_tenant(runtime)
    chat = await start_chat(http, tenant)
    return {
        "tenant": tenant,
        "chat": chat,
        "secret": await tenant_secret(runtime, tenant, "api"),
        "start": f"/web/v1/{tenant.slug}/conversations",
        "send": f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        "api": f"/v1/channels/api/{tenant.slug}/messages",
        "token": "/v1/auth/token",
    }


def _credentials(ctx: dict[str, Any], route: str, body: bytes) -> dict[str, str]:
    """What ``route`` needs besides the body: a key, a visitor token or a signature."""
    if route == "start":
        return {"X-FrontDesk-Key": ctx["tenant"].publishable_key}
    if route == "send":
        return bearer(ctx["chat"]["visitor_token"])
    if route == "api":
        return sign_request(ctx["secret"], body)
    return {}


async def _post_body(
    http: httpx.AsyncClient, ctx: dict[str, Any], route: str, body: bytes, content_type: str
) -> httpx.Response:
    headers = {"content-type": content_type, **_credentials(ctx, route, body)}
    return await http.post(ctx[route], content=body, headers=headers)


NESTED = {
    "arrays, 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "objects, 10,000 deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "in a field, 10,000 deep": b'{"text": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "arrays, 4,000 deep (within the token form limit)": b"[" * 4_000 + b"]" * 4_000,
}


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_deeply_nested_json_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests, route: str
) -> None:
    ctx = await _routes(http, runtime)
    for shape, body in NESTED.items():
        with subtests.test(msg=shape):
            response = await _post_body(http, ctx, route, body, "application/json")
            assert 400 <= response.status_code < 500, response.text
            assert_refused_cleanly(response)
    assert await count_messages(runtime, ctx["tenant"]) == 0


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_oversized_bodies_are_refused_however_they_are_sent(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests, route: str
) -> None:
    """Beyond the declared size on the send route (tests/gateway/test_web.py): every route, and
    bodies that do not declare their size or understate it."""
    ctx = await _routes(http, runtime)
    big = json.dumps({"text": "x" * 70_000}).encode()
    headers = {"content-type": "application/json", **_credentials(ctx, route, big)}

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    for how in ("declared", "chunked", "understated length"):
        with subtests.test(msg=how):
            if how == "declared":
                response = await http.post(ctx[route], content=big, headers=headers)
            elif how == "chunked":
                response = await http.post(ctx[route], content=chunks(), headers=headers)
                assert "content-length" not in response.request.headers
            else:
                request = http.build_request("POST", ctx[route], content=big, headers=headers)
                request.headers["content-length"] = "100"
                response = await http.send(request)
            assert_problem(response, 413, "request-too-large")
            assert response.headers["x-request-id"]
    assert await count_messages(runtime, ctx["tenant"]) == 0


async def test_a_malformed_content_length_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    ctx = await _routes(http, runtime)
    for length in ("abc", "-1", "1e3", " 12", "99999999999999999999"):
        with subtests.test(msg=length):
            request = http.build_request(
                "POST", ctx["send"], json={"text": "hola"}, headers=_credentials(ctx, "send", b"")
            )
            request.headers["content-length"] = length
            response = await http.send(request)
            assert_problem(response, 413, "request-too-large")


CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/octet-stream",
]


@pytest.mark.parametrize("route", ["start", "send", "token"])
async def test_wrong_content_types_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests, route: str
) -> None:
    """A JSON body declared as something else is not read as JSON (a browser sends text/plain
    cross-origin without a preflight)."""
    ctx = await _routes(http, runtime)
    if route == "token":
        key = await make_secret_key(runtime, ctx["tenant"])
        body = json.dumps({"grant_type": "client_credentials", "client_secret": key}).encode()
    else:
        body = json.dumps({"text": "hola"} if route == "send" else {"locale": "es"}).encode()
    for content_type in CONTENT_TYPES:
        with subtests.test(msg=content_type):
            response = await _post_body(http, ctx, route, body, content_type)
            assert response.status_code in (415, 422), response.text
            assert_refused_cleanly(response)
            assert "access_token" not in response.text
    assert await count_messages(runtime, ctx["tenant"]) == 0


async def test_a_signed_body_that_is_not_a_json_message_is_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """The API channel authenticates the raw bytes, whatever type they are declared as; bytes
    that are not a JSON message are refused after that, and nothing is stored."""
    ctx = await _routes(http, runtime)
    for body, content_type in [
        (b"contact=crm-1&text=hola", "application/x-www-form-urlencoded"),
        (b"<message><text>hola</text></message>", "application/xml"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b'"hola"', "application/json"),
    ]:
        with subtests.test(msg=body.decode() or "(empty)"):
            response = await _post_body(http, ctx, "api", body, content_type)
            assert_problem(response, 422)
    assert await count_messages(runtime, ctx["tenant"]) == 0


# ── injection, through every parameter of every route ───────────────────────────────────────

INJECTIONS = [
    "' OR 1=1 --",
    "1; DROP TABLE messages",
    "1'; DROP TABLE tenants; --",
    "' UNION SELECT key_hash FROM api_keys --",
    "%' OR '%'='",
    "'; SELECT pg_sleep(5); --",
    "ʼ OR 1=1 --",  # a modifier letter apostrophe
    "😀' OR '😀'='😀",
    "\u202e' OR 1=1 --",  # a right-to-left override
    "\x00",
    "a\x00' OR 1=1 --",
]
STORED_TEXT = [p for p in INJECTIONS if "\x00" not in p]
"""Payloads stored as free text (NUL is refused there: see the NUL test below)."""
HEADER_SAFE = [p for p in INJECTIONS if p.isascii() and p.isprintable()]


async def _snapshot(
    runtime: Runtime, tenant_id: uuid.UUID
) -> tuple[dict[str, int], dict[str, int]]:
    """Every table's row count, and the tenant's rows in each."""
    totals: dict[str, int] = {}
    async with runtime.db.session() as session, system_scope(session):
        for table in Base.metadata.sorted_tables:
            query = select(func.count()).select_from(table)
            totals[table.name] = int((await session.execute(query)).scalar_one())
    return totals, await tenant_rows(runtime, tenant_id)


async def test_injection_through_every_parameter_is_inert(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """``' OR 1=1 --`` and its kin in every path, query, header and body parameter of every
    route: never a 5xx, nothing of another tenant in any response, free text stored exactly as
    sent, and every table still there, with no fewer rows, afterwards."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    await configure(runtime, a, rate_limits=GENEROUS)
    chat = await start_chat(http, a)
    conversation = chat["conversation"]["id"]
    visitor = bearer(chat["visitor_token"])
    pk = {"X-FrontDesk-Key": a.publishable_key}
    secret_key = await make_secret_key(runtime, a)
    key = bearer(secret_key)
    admin = bearer(await owner_admin_key(runtime))
    api = await tenant_secret(runtime, a, "api")
    identity = await tenant_secret(runtime, a, "identity")
    chat_b = await start_chat(http, b)
    await http.post(
        f"/web/v1/{b.slug}/conversations/{chat_b['conversation']['id']}/messages",
        json={"text": "privado de B"},
        headers=bearer(chat_b["visitor_token"]),
    )
    await wait_for_reply(http, b, chat_b, after=1)
    await runtime.jobs.run_due()
    before_totals, before_b = await _snapshot(runtime, b.context.id)
    web = f"/web/v1/{a.slug}/conversations"
    seen: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await asyncio.wait_for(http.request(method, url, **kwargs), timeout=10)
        assert_refused_cleanly(response, (method, url, kwargs))
        seen.append(response)
        return response

    def signed(message: dict[str, Any], **headers: str) -> dict[str, Any]:
        raw = json.dumps(message).encode()
        return {
            "content": raw,
            "headers": {**sign_request(api, raw), "content-type": "application/json", **headers},
        }

    for payload in INJECTIONS:
        part = quote(payload, safe="")
        # Path parameters.
        await call("POST", f"/web/v1/{part}/conversations", headers=pk)
        await call("POST", f"{web}/{part}/messages", json={"text": "hola"}, headers=visitor)
        await call("GET", f"{web}/{part}/messages", headers=visitor)
        await call("GET", f"{web}/{part}/events", headers=visitor)
        await call("GET", f"/v1/conversations/{part}", headers=key)
        await call("POST", f"/v1/channels/api/{part}/messages", **signed(json.loads(api_body())))
        await call("GET", f"/v1/admin/tenants/{part}", headers=admin)
        await call("PATCH", f"/v1/admin/tenants/{part}", json={"plan": "pro"}, headers=admin)
        await call("POST", f"/v1/admin/tenants/{part}/suspend", headers=admin)
        await call("DELETE", f"/v1/admin/tenants/{part}", headers=admin)
        # Query parameters.
        for name in ("channel", "status", "limit", "cursor", "tenant_id"):
            await call("GET", "/v1/conversations", params={name: payload}, headers=key)
        for name in ("after", "limit"):
            params = {name: payload}
            await call("GET", f"/v1/conversations/{conversation}", params=params, headers=key)
            await call("GET", f"{web}/{conversation}/messages", params=params, headers=visitor)
        await call(
            "GET", f"{web}/{conversation}/events", params={"after": payload}, headers=visitor
        )
        await call("GET", f"{web}/{conversation}/messages", params={"token": payload})
        await call("GET", f"{web}/{conversation}/events", params={"token": payload})
        # Body fields that are validated before they are used.
        await call("POST", web, json={"locale": payload}, headers=pk)
        await call("POST", web, json={"user": {"id": "u-1", "proof": payload}}, headers=pk)
        await call(
            "POST",
            f"{web}/{conversation}/messages",
            json={"text": "hola", "client_id": payload},
            headers=visitor,
        )
        for field in ("client_secret", "scope", "grant_type"):
            form = {"grant_type": "client_credentials", "client_secret": secret_key, field: payload}
            await call("POST", "/v1/auth/token", data=form)
            await call("POST", "/v1/auth/token", json=form)
        await call("POST", "/v1/admin/tenants", json={"slug": payload, "name": "x"}, headers=admin)
        for change in ({"allowed_origins": [payload]}, {"plan": payload}):
            await call("PATCH", f"/v1/admin/tenants/{a.slug}", json=change, headers=admin)
        # Free text, stored: it must come back exactly as sent.
        if payload in STORED_TEXT:
            sent = await call(
                "POST", f"{web}/{conversation}/messages", json={"text": payload}, headers=visitor
            )
            assert sent.status_code == 202, sent.text
            proof = hmac.new(identity.encode(), payload.encode(), hashlib.sha256).hexdigest()
            user = {"id": payload, "proof": proof, "name": payload, "email": payload}
            verified = await call("POST", web, json={"user": user}, headers=pk)
            assert verified.status_code == 200, verified.text
            for message in (
                {
                    "contact": {"id": payload, "name": payload, "email": payload, "phone": "1"},
                    "text": payload,
                },
                {"contact": {"id": "crm-1"}, "text": "hola", "message_id": payload},
            ):
                accepted = await call(
                    "POST", f"/v1/channels/api/{a.slug}/messages", **signed(message)
                )
                assert accepted.status_code == 202, accepted.text
            slug = f"t-{secrets.token_hex(4)}"
            created = {"slug": slug, "name": payload}
            assert (await call("POST", "/v1/admin/tenants", json=created, headers=admin)).is_success
            shown = await call("GET", f"/v1/admin/tenants/{slug}", headers=admin)
            assert shown.json()["name"] == payload
            zone = {"timezone": payload}
            await call("PATCH", f"/v1/admin/tenants/{slug}", json=zone, headers=admin)
        # Headers (a header carries printable ASCII).
        if payload in HEADER_SAFE:
            await call("POST", web, headers={"X-FrontDesk-Key": payload})
            await call("POST", web, headers={"X-FrontDesk-Key": "pk_" + payload})
            await call("GET", "/v1/conversations", headers=bearer(payload))
            await call("GET", "/v1/conversations", headers=bearer("sk_" + payload))
            await call("GET", f"{web}/{conversation}/messages", headers=bearer(payload))
            await call(
                "GET", f"{web}/{conversation}/events", headers={**visitor, "Last-Event-ID": payload}
            )
            basic = base64.b64encode(f"x:{payload}".encode()).decode()
            await call(
                "POST",
                "/v1/auth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            )
            await call(
                "POST",
                f"/v1/channels/api/{a.slug}/messages",
                **signed(json.loads(api_body()), **{"webhook-id": payload}),
            )

    history = await http.get(
        f"{web}/{conversation}/messages", params={"limit": 200}, headers=visitor
    )
    stored = {m["text"] for m in history.json()["messages"] if m["direction"] == "in"}
    assert set(STORED_TEXT) <= stored
    for response in seen:
        for of_b in ("privado de B", b.slug, str(b.context.id), chat_b["conversation"]["id"]):
            assert of_b not in response.text, response.request.url
    after_totals, after_b = await _snapshot(runtime, b.context.id)
    assert after_b == before_b
    assert all(after_totals[name] >= count for name, count in before_totals.items())
    async with runtime.db.session() as session, system_scope(session):
        for table in Base.metadata.sorted_tables:
            await session.execute(text(f"SELECT 1 FROM {table.name} LIMIT 1"))  # noqa: S608


async def test_numbers_beyond_the_columns_are_refused(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """A sequence number past what the column holds is refused as input, not sent to the
    database (where it overflowed: a 500)."""
    tenant = await make_tenant(runtime)
    chat = await start_chat(http, tenant)
    conversation = chat["conversation"]["id"]
    web = f"/web/v1/{tenant.slug}/conversations/{conversation}"
    visitor = bearer(chat["visitor_token"])
    server = bearer(await make_secret_key(runtime, tenant))
    for value in (str(2**31), str(2**63), "9" * 40, "-1"):
        for url, params, headers in (
            (f"{web}/messages", {"after": value}, visitor),
            (f"{web}/events", {"after": value}, visitor),
            (f"{web}/events", {}, {**visitor, "Last-Event-ID": value}),
            (f"/v1/conversations/{conversation}", {"after": value}, server),
        ):
            with subtests.test(msg=f"{url.rsplit('/', 1)[1]} {params or headers} "):
                response = await asyncio.wait_for(
                    http.get(url, params=params, headers=headers), timeout=10
                )
                assert_problem(response, 422, "validation-error")


NUL_FIELDS = [
    "web message text",
    "api contact.id",
    "api contact.name",
    "api contact.email",
    "api contact.phone",
    "api text",
    "api message_id",
    "verified user id",
    "verified user name",
    "verified user email",
    "operator tenant name",
    "operator timezone",
]


async def test_nul_bytes_in_free_text_are_refused_on_every_backend(
    http: httpx.AsyncClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    """PostgreSQL cannot store U+0000 in text (it was a 500 there, and stored on SQLite): it is
    refused as input, the same on both."""
    ctx = await _routes(http, runtime)
    identity = await tenant_secret(runtime, ctx["tenant"], "identity")
    admin = bearer(await owner_admin_key(runtime))
    nul = "a\x00b"
    for field in NUL_FIELDS:
        with subtests.test(msg=field):
            where, _, name = field.partition(" ")
            if where == "web":
                response = await http.post(
                    ctx["send"], json={"text": nul}, headers=_credentials(ctx, "send", b"")
                )
            elif where == "api":
                message: dict[str, Any] = {"contact": {"id": "crm-1"}, "text": "hola"}
                if name.startswith("contact."):
                    message["contact"][name.split(".")[1]] = nul
                else:
                    message[name] = nul
                raw = json.dumps(message).encode()
                response = await post_signed(
                    http, ctx["tenant"].slug, raw, sign_request(ctx["secret"], raw)
                )
            elif where == "verified":
                user = {"id": "user-1", name.split()[1]: nul}
                user["proof"] = hmac.new(
                    identity.encode(), user["id"].encode(), hashlib.sha256
                ).hexdigest()
                response = await http.post(
                    ctx["start"], json={"user": user}, headers=_credentials(ctx, "start", b"")
                )
            elif name == "tenant name":
                body = {"slug": f"t-{secrets.token_hex(4)}", "name": nul}
                response = await http.post("/v1/admin/tenants", json=body, headers=admin)
            else:
                response = await http.patch(
                    f"/v1/admin/tenants/{ctx['tenant'].slug}", json={"timezone": nul}, headers=admin
                )
            assert_problem(response, 422)
    assert await count_messages(runtime, ctx["tenant"]) == 0


# ── the audit log ────────────────────────────────────────────────────────────────────────────


async def test_cross_tenant_key_use_lands_in_the_owners_audit_log(
    app: FastAPI, runtime: Runtime
) -> None:
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    address = unique_address()
    request_id = f"attack-{secrets.token_hex(6)}"
    async with client_for(app, address) as http:
        response = await http.post(
            f"/web/v1/{a.slug}/conversations",
            headers={"X-FrontDesk-Key": b.publishable_key, "X-Request-ID": request_id},
        )
    assert_problem(response, 401, "invalid-key")
    assert response.headers["x-request-id"] == request_id
    events = await audit_rows(runtime, b.context.id)
    noted = [e for e in events if e.action == "security.cross_tenant"]
    assert len(noted) == 1, [e.action for e in events]
    assert noted[0].target == a.slug
    assert noted[0].request_id == request_id
    assert noted[0].ip == address
    assert noted[0].actor == "anonymous"
    # The tenant whose path was used learns nothing about B from its own log.
    for event in await audit_rows(runtime, a.context.id):
        assert b.slug not in json.dumps([event.target, event.data]), event.action


async def test_refusals_are_audited_once_a_minute_not_once_a_request(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A flood of bad credentials, or of requests over a limit, is one event per kind and
    minute in the tenant's log: an attacker cannot make us write a row per request."""
    tenant = await make_tenant(runtime)
    await configure(runtime, tenant, rate_limits={"visitor": 2})
    chat = await start_chat(http, tenant)
    history = f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages"
    for n in range(10):
        await http.post(
            f"/web/v1/{tenant.slug}/conversations", headers={"X-FrontDesk-Key": f"pk_nope{n}"}
        )
        await http.get(history, headers=bearer(f"not-a-token-{n}"))
        await http.get(history, headers=bearer(chat["visitor_token"]))
    events = await audit_rows(runtime, tenant.context.id)
    actions = [(e.action, e.data.get("scope")) for e in events]
    assert actions.count(("security.auth_failed", "publishable_key")) == 1, actions
    assert actions.count(("security.auth_failed", "visitor_token")) == 1, actions
    assert actions.count(("security.rate_limited", "visitor")) == 1, actions
    for event in events:
        if event.action.startswith("security."):
            assert event.request_id, event.action
            assert event.ip, event.action


async def test_no_secret_value_ever_appears_in_the_audit_log(
    http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Keys, secrets, tokens, identity proofs and signatures, used right and wrong: the whole
    audit table holds none of them, nor their tails."""
    a = await make_tenant(runtime)
    b = await make_tenant(runtime)
    values: list[str] = [a.publishable_key, b.publishable_key]
    sk = await make_secret_key(runtime, a)
    key_id = await scalar(runtime, select(ApiKey.id).where(ApiKey.key_hash == hash_key(sk)))
    async with runtime.db.session() as session:
        rotated = await rotate_key(
            session, a.context.id, key_id, overlap=timedelta(minutes=5), actor="test"
        )
    api, webhook, identity = [
        await tenant_secret(runtime, a, p) for p in ("api", "webhook", "identity")
    ]
    async with runtime.db.session() as session:
        api_rotated = await rotate_secret(
            session, runtime.box, a.context.id, purpose="api", overlap=timedelta(0), actor="test"
        )
    values += [sk, rotated.key, api, webhook, identity, api_rotated.value]
    tokens = [await access_token(http, key) for key in (sk, rotated.key)]
    chat = await start_chat(http, a)
    proof = hmac.new(identity.encode(), b"user-9", hashlib.sha256).hexdigest()
    signed = sign_request(api_rotated.value, api_body())
    values += [*tokens, chat["visitor_token"], proof, signed["webhook-signature"].split(",")[1]]
    web = f"/web/v1/{a.slug}/conversations"
    await http.post(
        web,
        json={"user": {"id": "user-9", "proof": proof}},
        headers={"X-FrontDesk-Key": a.publishable_key},
    )
    await post_signed(http, a.slug, api_body(), signed)
    await post_signed(http, a.slug, api_body(), sign_request(api, api_body()))  # expired secret
    await http.post(web, headers={"X-FrontDesk-Key": b.publishable_key})  # cross-tenant
    await http.post(web, headers={"X-FrontDesk-Key": sk})  # a secret key from a browser
    await http.post(web, headers={"X-FrontDesk-Key": "pk_" + sk[3:]})  # a guessed key
    await http.get(f"{web}/{chat['conversation']['id']}/messages", headers=bearer(tokens[0]))
    await http.get("/v1/conversations", headers=bearer(sk + "x"))
    await http.get("/v1/conversations", headers=bearer(chat["visitor_token"]))
    events = await audit_rows(runtime)
    assert {e.action for e in events} >= {
        "key.created",
        "key.rotated",
        "secret.created",
        "secret.rotated",
        "token.issued",
        "security.cross_tenant",
        "security.auth_failed",
    }
    for event in events:
        row = json.dumps(
            [event.actor, event.action, event.target, event.data, event.request_id, event.ip],
            default=str,
        )
        for value in values:
            assert value not in row, (event.action, value[:8])
            assert value[-16:] not in row, (event.action, value[:8])
