"""The request pipeline under test: the real Front Desk app plus three benchmark-only routes.

The app is ``frontdesk.app.create_app(settings)`` exactly as ``frontdesk serve`` builds it (its
middleware, routers, runtime and start-up), on a fresh embedded database. Three routes are added
here, for the benchmark only; each takes the same request model as the bare route
(:class:`~frontdesk.conversations.schemas.MessageCreate`) and answers with the same canned reply
(:func:`bench.baseline_app.reply`), so what differs from the bare route is exactly the pipeline:

* ``POST /web/v1/{tenant}/bench/echo`` — the browser flavour: request id, body limit, pre-auth
  flood limit per IP, the tenant's CORS (an allowed ``Origin`` is sent), tenant resolution, the
  visitor token, the per-visitor and per-tenant limits (``PathTenant`` + ``Visitor``).
* ``POST /v1/bench/echo`` — the server flavour: the same outer pipeline, then a Tenant Access
  Token (or secret key), the ``conversations:read`` scope and the per-key-family and per-tenant
  limits (``requires("conversations:read")``).
* ``POST /v1/channels/api/{tenant}/bench/echo`` — the signed flavour, as the API channel's
  inbound route checks it: the tenant's active ``api`` secrets, the Standard Webhooks signature
  and the message id claimed once (``verify_once``: ``verify_request`` and the replay guard),
  the body validated from its raw bytes, and the per-contact and per-tenant limits.

Two commands:

    python -m bench.pipeline_app prepare --output creds.json --visitors 64
    python -m bench.pipeline_app serve --port 8002

``prepare`` migrates the database named by the ``FRONTDESK_*`` environment, registers the owner
tenant, raises its limits (every request still counted), allows the benchmark's origin, creates
a secret key and an ``api`` signing secret, and issues visitor tokens and an access token; it
writes them to ``--output`` for the load generator. ``serve`` runs the app like
``frontdesk serve`` (and :mod:`bench.baseline_app`) does.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import ValidationError

from bench.baseline_app import reply, serve
from frontdesk.app import create_app
from frontdesk.conversations.schemas import MessageCreate, MessageOut
from frontdesk.errors import Invalid, Unauthorized
from frontdesk.gateway.deps import (
    Caller,
    PathTenant,
    RuntimeDep,
    Visitor,
    charge,
    open_session,
    requires,
)
from frontdesk.ids import new_id
from frontdesk.observability.logging import configure_logging
from frontdesk.security.crypto import SecretBox
from frontdesk.security.keys import DEFAULT_SCOPES, create_key
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import verify_once
from frontdesk.security.signing import Keyring
from frontdesk.security.tokens import ACCESS, VISITOR, TokenService
from frontdesk.settings import Settings
from frontdesk.store import migrate
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.owner import ensure_owner

ORIGIN = "https://shop.example.com"
"""The site the benchmark's browser requests come from, added to the tenant's allowed origins."""
LIMIT_PER_MINUTE = 1_000_000
"""The most a tenant's settings allow: counted on every request, never reached."""
TOKEN_TTL = timedelta(hours=12)
"""Long enough for any run (an access token from ``/v1/auth/token`` lives 15 minutes)."""

WEB_PATH = "/web/v1/{tenant}/bench/echo"
SERVER_PATH = "/v1/bench/echo"
SIGNED_PATH = "/v1/channels/api/{tenant}/bench/echo"

router = APIRouter(tags=["benchmark"], include_in_schema=False)


@router.post(WEB_PATH)
async def web_echo(tenant: PathTenant, visitor: Visitor, body: MessageCreate) -> MessageOut:
    """The browser flavour: tenant, CORS, visitor token, per-visitor and per-tenant limits."""
    return reply(body)


@router.post(SERVER_PATH)
async def server_echo(
    caller: Annotated[Caller, Depends(requires("conversations:read"))], body: MessageCreate
) -> MessageOut:
    """The server flavour: access token or secret key, scope, per-key and per-tenant limits."""
    return reply(body)


@router.post(SIGNED_PATH)
async def signed_echo(rt: RuntimeDep, request: Request, tenant: PathTenant) -> MessageOut:
    """The signed flavour, checked as the API channel's inbound route checks its requests."""
    raw = await request.body()
    secrets = await rt.secrets.active(open_session(request), tenant.id, purpose="api")
    if not secrets:
        raise Unauthorized("the API channel has no signing secret: create one first")
    signed = await verify_once(rt.replay, f"bench-{tenant.id}", secrets, request.headers, raw)
    try:
        body = MessageCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise Invalid(str(exc.errors()[0]["msg"])) from exc
    # As the API channel's route limits its contacts; here one contact per connection (the
    # load generator's message ids are "msg_<connection>-<n>").
    contact = signed.msg_id.rpartition("-")[0]
    await charge(request, tenant, scope="visitor", identity=f"api:{contact}")
    return reply(body)


def build(settings: Settings) -> FastAPI:
    """The real app with the benchmark's routes added, first among the routes of their paths'
    prefixes (``/web/v1/``, ``/v1/``) as the hot routes are first in their routers: the app's
    route index tries only the routers that could match a path, in order."""
    app = create_app(settings)
    app.include_router(router)
    app.router.routes.insert(0, app.router.routes.pop())
    return app


async def prepare(settings: Settings, visitors: int) -> dict[str, Any]:
    """Set the owner tenant up for the benchmark and return what the load generator needs."""
    db = Database(settings)
    box = SecretBox(settings.instance_key)
    changes = {
        "plan": "enterprise",
        "rate_limits": dict.fromkeys(("tenant", "key", "visitor"), LIMIT_PER_MINUTE),
        "allowed_origins": [ORIGIN],
    }
    try:
        await ensure_owner(db, settings)
        async with db.session() as session:
            tenant = await tenants.get_tenant(session, settings.owner_slug)
            await tenants.update_settings(session, tenant, changes, actor="benchmark")
            key = await create_key(
                session, tenant.id, kind="secret", name="benchmark", actor="benchmark"
            )
            secret = await create_secret(session, box, tenant.id, purpose="api", actor="benchmark")
            tenant_id: uuid.UUID = tenant.id
            key_id, family = key.row.id, key.row.family_id
        keyring = Keyring(db, box)
        await keyring.load()
        issuer = TokenService(keyring, issuer=settings.token_issuer)
        # As the web chat's start route issues them: one per visitor, its contact as subject.
        visitor_tokens = [
            issuer.issue(VISITOR, tenant_id=tenant_id, subject=str(new_id()), ttl=TOKEN_TTL).token
            for _ in range(visitors)
        ]
        # As /v1/auth/token issues it for the secret key: its subject, scopes and family.
        access = issuer.issue(
            ACCESS,
            tenant_id=tenant_id,
            subject=f"key:{key_id}",
            scopes=DEFAULT_SCOPES["secret"],
            key_family=family,
            ttl=TOKEN_TTL,
        )
    finally:
        await db.dispose()
    return {
        "tenant": settings.owner_slug,
        "origin": ORIGIN,
        "limit_per_minute": LIMIT_PER_MINUTE,
        "visitor_tokens": visitor_tokens,
        "access_token": access.token,
        "secret_key": key.key,
        "api_secret": secret.value,
        "paths": {
            "web": WEB_PATH.format(tenant=settings.owner_slug),
            "server": SERVER_PATH,
            "signed": SIGNED_PATH.format(tenant=settings.owner_slug),
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_app")
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="migrate, set the tenant up, write credentials")
    prep.add_argument("--output", type=Path, required=True, help="where to write the JSON")
    prep.add_argument("--visitors", type=int, default=64, help="visitor tokens to issue")
    run = commands.add_parser("serve", help="serve the app with the benchmark routes")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "prepare":
        migrate.upgrade(settings.resolved_database_url)
        credentials = asyncio.run(prepare(settings, max(1, args.visitors)))
        args.output.write_bytes(orjson.dumps(credentials, option=orjson.OPT_INDENT_2))
        return
    configure_logging(settings.log_level, settings.log_format)
    serve(build(settings), args.host, args.port)


if __name__ == "__main__":
    main()
