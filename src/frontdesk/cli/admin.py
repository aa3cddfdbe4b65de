"""Operator commands: tenants, keys, context packs, conversations."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.cli.durations import parse_duration
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ConversationOut, MessageOut
from frontdesk.engine.packs import ContextPack, PackError, load_pack
from frontdesk.security import keys as api_keys
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import TenantCreate, TenantOut
from frontdesk.tenancy.service import to_context

tenant_app = typer.Typer(help="Create and inspect tenants.", no_args_is_help=True)
key_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
pack_app = typer.Typer(help="Validate and load context packs.", no_args_is_help=True)
conversation_app = typer.Typer(
    help="Read conversations; take them from the assistant and release them.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ACTOR = "cli"


def _tenant_out(row: Any) -> dict[str, Any]:
    data = TenantOut.model_validate(row).model_dump(mode="json")
    data["has_pack"] = row.pack is not None
    return data


def _pack(path: Path) -> ContextPack:
    try:
        return load_pack(path)
    except PackError as exc:
        fail(str(exc))


async def _context(session: AsyncSession, slug: str) -> TenantContext:
    return to_context(await tenants.get_tenant(session, slug))


@tenant_app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Argument(help="Lowercase id used in URLs, e.g. acme.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    pack: Annotated[Path | None, typer.Option(help="Context pack directory or file.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a tenant (with a publishable key for its web chat)."""
    try:
        data = TenantCreate(slug=slug, name=name)
    except ValueError:
        fail(f"invalid slug '{slug}': use lowercase letters, digits and hyphens")
    context_pack = _pack(pack) if pack else None

    async def work(db: Database) -> tuple[dict[str, Any], str]:
        async with db.session() as session:
            row = await tenants.create_tenant(session, data, actor=ACTOR, pack=context_pack)
            issued = await api_keys.create_key(
                session, row.id, kind="publishable", name="web", actor=ACTOR
            )
            return _tenant_out(row), issued.key

    tenant, key = run_db(work)
    if json_:
        print_json({**tenant, "publishable_key": key})
    else:
        out.print(f"created tenant [bold]{slug}[/] ({tenant['id']})\npublishable key: {key}")


@tenant_app.command("list")
def tenant_list(json_: JsonOpt = False) -> None:
    """List tenants."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            return [_tenant_out(row) for row in await tenants.list_tenants(session)]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("slug", "name", "status", "pack", "id")
    for row in rows:
        table.add_row(
            row["slug"], row["name"], row["status"], "yes" if row["has_pack"] else "no", row["id"]
        )
    out.print(table)


@tenant_app.command("show")
def tenant_show(slug: str, json_: JsonOpt = False) -> None:
    """Show one tenant and its settings."""

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            data = _tenant_out(row)
            if row.pack:
                data["pack"] = {
                    "id": row.pack.get("id"),
                    "version": row.pack.get("version"),
                    "services": len(row.pack.get("services", [])),
                }
            return data

    data = run_db(work)
    if json_:
        print_json(data)
        return
    for name, value in data.items():
        out.print(f"[bold]{name}[/]: {value}", highlight=False)


@tenant_app.command("update")
def tenant_update(
    slug: str,
    origin: Annotated[
        list[str] | None, typer.Option(help="Allowed web origin (repeat; replaces the list).")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="free, starter, pro or enterprise.")] = None,
    mode: Annotated[str | None, typer.Option(help="sales or support.")] = None,
    identity: Annotated[
        str | None, typer.Option(help="Visitor identity verification: optional or required.")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Purge conversations idle this long.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a tenant's settings (validated; the previous version is kept in the audit log)."""
    changes: dict[str, Any] = {}
    if origin is not None:
        changes["allowed_origins"] = [o for o in origin if o]
    if plan is not None:
        changes["plan"] = plan
    if mode is not None:
        changes["mode"] = mode
    if identity is not None:
        changes["identity_verification"] = identity
    if retention_days is not None:
        changes["retention_days"] = retention_days
    if not changes:
        fail("nothing to change: give --origin, --plan, --mode, --identity or --retention-days")

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            await tenants.update_settings(session, row, changes, actor=ACTOR)
            return _tenant_out(row)

    data = run_db(work)
    if json_:
        print_json(data)
    else:
        out.print(f"updated {slug}: {', '.join(sorted(changes))}")


def _set_status(slug: str, status: str) -> None:
    async def work(db: Database) -> None:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            await tenants.set_status(session, row, status, actor=ACTOR)  # type: ignore[arg-type]

    run_db(work)
    out.print(f"{slug} is {status}")


@tenant_app.command("suspend")
def tenant_suspend(slug: str) -> None:
    """Refuse every request of the tenant, at once, until reactivated."""
    _set_status(slug, "suspended")


@tenant_app.command("reactivate")
def tenant_reactivate(slug: str) -> None:
    """Let a suspended tenant in again."""
    _set_status(slug, "active")


@key_app.command("create")
def key_create(
    tenant: str,
    kind: Annotated[
        api_keys.KeyKindChoice, typer.Option(help="publishable (browsers) or secret (servers).")
    ] = api_keys.KeyKindChoice.secret,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "default",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope of a secret key (repeat): conversations:read, "
            "conversations:write, admin (owner tenant only)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Issue a key; its value is shown this once."""

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            context = await _context(session, tenant)
            if scope and "admin" in scope and context.slug != settings().owner_slug:
                fail("only the owner tenant's keys can have the admin scope")
            issued = await api_keys.create_key(
                session, context.id, kind=kind.kind, name=name[:100], actor=ACTOR, scopes=scope
            )
            return {
                "id": str(issued.row.id),
                "kind": kind.kind,
                "name": issued.row.name,
                "key": issued.key,
            }

    data = run_db(work)
    if json_:
        print_json(data)
    else:
        out.print(
            f"{data['kind']} key {data['id']}\n{data['key']}\n(store it now: it is not shown again)"
        )


@key_app.command("rotate")
def key_rotate(
    tenant: str,
    key_id: str,
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working, e.g. 0, 1h, 7d.")
    ] = "24h",
    json_: JsonOpt = False,
) -> None:
    """Issue a key's successor; the old one stops after the overlap (quotas carry on)."""
    try:
        parsed = uuid.UUID(key_id)
        window = parse_duration(overlap)
    except ValueError as exc:
        fail(str(exc) if "duration" in str(exc) else f"'{key_id}' is not a key id")

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            context = await _context(session, tenant)
            issued = await api_keys.rotate_key(
                session, context.id, parsed, overlap=window, actor=ACTOR
            )
            return {
                "id": str(issued.row.id),
                "kind": issued.row.kind,
                "key": issued.key,
                "replaces": key_id,
            }

    data = run_db(work)
    if json_:
        print_json(data)
    else:
        out.print(
            f"new key {data['id']} (replaces {key_id})\n{data['key']}\n"
            "(store it now: it is not shown again)"
        )


@key_app.command("list")
def key_list(tenant: str, json_: JsonOpt = False) -> None:
    """List a tenant's keys (prefixes only)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            context = await _context(session, tenant)
            return [
                {
                    "id": str(row.id),
                    "kind": row.kind,
                    "name": row.name,
                    "prefix": row.prefix,
                    "created_at": row.created_at.isoformat(),
                    "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
                    "revoked": row.revoked_at is not None,
                }
                for row in await api_keys.list_keys(session, context.id)
            ]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "kind", "name", "prefix", "last used", "revoked")
    for row in rows:
        table.add_row(
            row["id"],
            row["kind"],
            row["name"],
            row["prefix"] + "…",
            row["last_used_at"] or "-",
            "yes" if row["revoked"] else "no",
        )
    out.print(table)


@key_app.command("revoke")
def key_revoke(tenant: str, key_id: str) -> None:
    """Revoke a key at once."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        fail(f"'{key_id}' is not a key id")

    async def work(db: Database) -> None:
        async with db.session() as session:
            context = await _context(session, tenant)
            await api_keys.revoke_key(session, context.id, parsed, actor=ACTOR)

    run_db(work)
    out.print(f"revoked {key_id}")


@pack_app.command("validate")
def pack_validate(path: Path, json_: JsonOpt = False) -> None:
    """Check a context pack; an invalid one names the file, the field and the reason."""
    pack = _pack(path)
    summary = {
        "id": pack.id,
        "version": pack.version,
        "services": len(pack.services),
        "languages": list(pack.languages),
    }
    if json_:
        print_json({"valid": True, **summary})
    else:
        out.print(f"pack {pack.id} {pack.version} is valid: {len(pack.services)} services")


@pack_app.command("load")
def pack_load(tenant: str, path: Path) -> None:
    """Validate a context pack and make it the tenant's."""
    pack = _pack(path)

    async def work(db: Database) -> None:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            await tenants.set_pack(session, row, pack, actor=ACTOR)

    run_db(work)
    out.print(f"loaded pack {pack.id} {pack.version} into {tenant}")


@conversation_app.command("list")
def conversation_list(
    tenant: str,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    json_: JsonOpt = False,
) -> None:
    """The tenant's most recent conversations."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            context = await _context(session, tenant)
            rows = await conversations.list_conversations(session, context, limit=limit)
            return [ConversationOut.model_validate(row).model_dump(mode="json") for row in rows]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "channel", "status", "language", "messages", "updated")
    for row in rows:
        table.add_row(
            row["id"],
            row["channel"],
            row["status"],
            row["language"] or "-",
            str(row["last_seq"]),
            row["updated_at"],
        )
    out.print(table)


@conversation_app.command("show")
def conversation_show(tenant: str, conversation_id: str, json_: JsonOpt = False) -> None:
    """A conversation's messages: channel, direction, text and status."""
    try:
        parsed = uuid.UUID(conversation_id)
    except ValueError:
        fail(f"'{conversation_id}' is not a conversation id")

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            context = await _context(session, tenant)
            conversation = await conversations.get_conversation(session, context, parsed)
            rows = await conversations.history(session, context, conversation, limit=10_000)
            return [MessageOut.model_validate(row).model_dump(mode="json") for row in rows]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("#", "channel", "dir", "text", "status", show_lines=True)
    for row in rows:
        table.add_row(str(row["seq"]), row["channel"], row["direction"], row["text"], row["status"])
    out.print(table)
