"""Security commands: access tokens, the instance's signing keys, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.cli.durations import parse_duration
from frontdesk.security import signing
from frontdesk.security.audit import record
from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import AuditEvent, SigningKey
from frontdesk.security.signing import Keyring
from frontdesk.security.tokens import ACCESS, TokenService, revoke
from frontdesk.store.db import Database
from frontdesk.store.scope import bind_tenant
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.service import revoke_all_tokens

token_app = typer.Typer(help="Issue and revoke Tenant Access Tokens.", no_args_is_help=True)
signing_app = typer.Typer(help="The instance's token signing keys.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ACTOR = "cli"
MAX_TTL_SECONDS = 24 * 3600


@token_app.command("issue")
def token_issue(
    tenant: str,
    scope: Annotated[list[str] | None, typer.Option(help="A scope (repeat for more).")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 15m, 1h (at most 24h).")] = "15m",
    json_: JsonOpt = False,
) -> None:
    """Issue a Tenant Access Token (for testing an integration, or a one-off job)."""
    try:
        lifetime = parse_duration(ttl)
    except ValueError as exc:
        fail(str(exc))
    if not 0 < lifetime.total_seconds() <= MAX_TTL_SECONDS:
        fail("--ttl must be between 1s and 24h")
    config = settings()
    scopes = scope or ["conversations:read"]

    async def work(db: Database) -> dict[str, Any]:
        keyring = Keyring(db, SecretBox(config.instance_key))
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            await keyring.load(session)
            issued = TokenService(keyring, issuer=config.token_issuer).issue(
                ACCESS, tenant_id=row.id, subject="cli", scopes=scopes, ttl=lifetime
            )
            record(
                session,
                row.id,
                actor=ACTOR,
                action="token.issued",
                target=issued.claims.jti,
                data={"scopes": sorted(scopes)},
            )
            return {
                "access_token": issued.token,
                "jti": issued.claims.jti,
                "expires_at": issued.claims.expires_at.isoformat(),
                "scope": " ".join(sorted(scopes)),
            }

    data = run_db(work, settings_=config)
    if json_:
        print_json(data)
    else:
        out.print(data["access_token"], soft_wrap=True, highlight=False)


@token_app.command("revoke")
def token_revoke(
    tenant: str,
    jti: Annotated[str | None, typer.Argument(help="The token's jti (omit with --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every token issued until now.")] = False,
) -> None:
    """Revoke one token by its jti, or every token of the tenant issued until now."""
    if (jti is None) == (not all_):
        fail("give a JTI or --all")

    async def work(db: Database) -> str:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            if all_:
                cutoff = await revoke_all_tokens(session, row, actor=ACTOR)
                return f"every token issued before {cutoff.isoformat()} is refused"
            await revoke(session, row.id, str(jti), actor=ACTOR)
            return f"revoked {jti}"

    out.print(run_db(work))


@signing_app.command("rotate")
def signing_rotate(
    retire_previous: Annotated[
        bool, typer.Option(help="Also stop verifying with keys already superseded.")
    ] = False,
) -> None:
    """Make a new signing key; the current one keeps verifying the tokens it signed."""
    config = settings()

    async def work(db: Database) -> str:
        async with db.session() as session:
            if retire_previous:
                rows = await session.execute(
                    select(SigningKey.kid).where(SigningKey.status == "verifying")
                )
                for kid in rows.scalars().all():
                    await signing.retire(session, kid)
            return await signing.rotate(session, SecretBox(config.instance_key))

    out.print(f"new signing key {run_db(work, settings_=config)}")


@signing_app.command("list")
def signing_list(json_: JsonOpt = False) -> None:
    """The signing keys and their status (active signs; verifying only verifies)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            rows = await session.execute(select(SigningKey).order_by(SigningKey.created_at))
            return [
                {
                    "kid": r.kid,
                    "alg": r.alg,
                    "status": r.status,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows.scalars()
            ]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("kid", "alg", "status", "created")
    for row in rows:
        table.add_row(row["kid"], row["alg"], row["status"], row["created_at"])
    out.print(table)


def audit(
    tenant: str,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. key.revoked.")] = None,
    json_: JsonOpt = False,
) -> None:
    """The tenant's audit log, newest first."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            bind_tenant(session, row.id)
            query = select(AuditEvent).where(AuditEvent.tenant_id == row.id)
            if action:
                query = query.where(AuditEvent.action == action)
            events = await session.execute(
                query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
            )
            return [
                {
                    "at": e.created_at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "request_id": e.request_id,
                    "ip": e.ip,
                    "data": e.data,
                }
                for e in events.scalars()
            ]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("at", "actor", "action", "target", "ip", "request")
    for row in rows:
        table.add_row(
            row["at"],
            row["actor"],
            row["action"],
            row["target"] or "-",
            row["ip"] or "-",
            row["request_id"] or "-",
        )
    out.print(table)
