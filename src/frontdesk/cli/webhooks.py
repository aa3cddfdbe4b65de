"""Operator commands for a tenant's webhook endpoints: add, list, remove, rotate the secret."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.cli.secrets import parse_overlap
from frontdesk.delivery import endpoints
from frontdesk.delivery.models import WebhookEndpointRow
from frontdesk.security.crypto import SecretBox
from frontdesk.security.ssrf import UrlGuard
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.context import TenantContext

webhook_app = typer.Typer(help="A tenant's webhook endpoints.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
TenantArg = Annotated[str, typer.Argument(help="The tenant's slug.")]
ACTOR = "cli"


def _row(row: WebhookEndpointRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at.isoformat(),
    }


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"'{value[:64]}' is not a webhook endpoint id")


def _box() -> tuple[Any, SecretBox]:
    config = settings()
    try:
        return config, SecretBox(config.instance_key)
    except OSError as exc:
        fail(f"cannot read the instance key: {exc.strerror or exc}")


async def _tenant(session: Any, slug: str) -> TenantContext:
    return tenants.to_context(await tenants.get_tenant(session, slug))


def _secret_out(data: dict[str, Any], what: str) -> None:
    out.print(
        f"{what} {data['id']}\n{data['secret']}\n(store it now: it is not shown again)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@webhook_app.command("add")
def webhook_add(
    tenant: TenantArg,
    url: Annotated[str, typer.Argument(help="https URL that receives the events.")],
    event: Annotated[
        list[str] | None, typer.Option("--event", help="An event to send (repeat); default all.")
    ] = None,
    description: Annotated[str, typer.Option(help="A note for the tenant.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Register an endpoint; its signing secret is shown this once."""
    config, box = _box()
    guard = UrlGuard(allow_private=config.webhooks_allow_private)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            issued = await endpoints.create_endpoint(
                session,
                box,
                guard,
                await _tenant(session, tenant),
                url=url,
                events=event or ["*"],
                description=description,
                actor=ACTOR,
            )
            return {**_row(issued.row), "secret": issued.secret}

    data = run_db(work, settings_=config)
    if json_:
        print_json(data)
    else:
        _secret_out(data, "webhook endpoint")


@webhook_app.command("list")
def webhook_list(tenant: TenantArg, json_: JsonOpt = False) -> None:
    """The tenant's endpoints (secrets are never shown)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            rows = await endpoints.list_endpoints(session, await _tenant(session, tenant))
            return [_row(row) for row in rows]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "url", "events", "enabled", "description")
    for row in rows:
        enabled = "yes" if row["enabled"] else f"no ({row['disabled_reason'] or 'disabled'})"
        table.add_row(row["id"], row["url"], ",".join(row["events"]), enabled, row["description"])
    out.print(table)


@webhook_app.command("remove")
def webhook_remove(tenant: TenantArg, endpoint_id: str) -> None:
    """Remove an endpoint and its secrets."""
    target = _id(endpoint_id)

    async def work(db: Database) -> None:
        async with db.session() as session:
            await endpoints.delete_endpoint(
                session, await _tenant(session, tenant), target, actor=ACTOR
            )

    run_db(work)
    out.print(f"webhook endpoint {target} removed", markup=False, highlight=False)


@webhook_app.command("rotate-secret")
def webhook_rotate(
    tenant: TenantArg,
    endpoint_id: str,
    overlap: Annotated[
        str, typer.Option(help="How long older secrets keep signing: 0, 30m, 24h, 7d.")
    ] = "24h",
    json_: JsonOpt = False,
) -> None:
    """A new signing secret (shown this once); older ones keep signing during the overlap."""
    target = _id(endpoint_id)
    window = parse_overlap(overlap)
    config, box = _box()

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            issued = await endpoints.rotate_secret(
                session, box, await _tenant(session, tenant), target, overlap=window, actor=ACTOR
            )
            return {"id": str(issued.row.id), "secret": issued.secret}

    data = run_db(work, settings_=config)
    if json_:
        print_json({**data, "overlap_seconds": int(window.total_seconds())})
    else:
        _secret_out(data, "new secret for webhook endpoint")
