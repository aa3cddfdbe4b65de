"""``frontdesk channel``: connect, list and remove a tenant's channel accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from frontdesk.channels import connections
from frontdesk.channels.models import ChannelConnection
from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.security.crypto import SecretBox
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants

channel_app = typer.Typer(
    help="Connect tenants' channel accounts (WhatsApp).", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ACTOR = "cli"


def _row(row: ChannelConnection) -> dict[str, Any]:
    """What may be shown of a connection: never its credentials."""
    return {
        "id": str(row.id),
        "kind": row.kind,
        "account_id": row.account_id,
        "status": row.status,
        "options": row.options,
        "created_at": row.created_at.isoformat(),
    }


def _box(config: Settings) -> SecretBox:
    try:
        return SecretBox(config.instance_key)
    except OSError as exc:
        fail(f"cannot read the instance key: {exc.strerror or exc}")


@channel_app.command("add")
def channel_add(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    kind: Annotated[str, typer.Argument(help="The channel: whatsapp.")],
    phone_number_id: Annotated[
        str, typer.Option(help="WhatsApp: the phone-number id of the Cloud API number.")
    ],
    app_secret: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, help="The Meta app's secret (asked for if omitted)."
        ),
    ],
    verify_token: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, help="The webhook verify token you chose in Meta's app."
        ),
    ],
    access_token: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            help="A system user's access token (asked for if omitted).",
        ),
    ],
    phone_number: Annotated[
        str | None, typer.Option(help="The number customers see, for wa.me links: +57…")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="Approved template that re-opens a conversation after 24 hours."),
    ] = None,
    template_language: Annotated[str, typer.Option(help="The template's language code.")] = "es",
    json_: JsonOpt = False,
) -> None:
    """Connect a channel account to a tenant; its credentials are sealed, never shown again."""
    if kind not in connections.KINDS:
        fail(f"unknown channel '{kind}': one of {', '.join(connections.KINDS)}")
    config = settings()
    box = _box(config)
    credentials = {
        "app_secret": app_secret,
        "verify_token": verify_token,
        "access_token": access_token,
    }
    options = {"phone_number": phone_number, "reengagement_template": template}
    options |= {"template_language": template_language}

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            added = await connections.add_connection(
                session,
                box,
                row.id,
                kind=kind,
                account_id=phone_number_id,
                credentials=credentials,
                options=options,
                actor=ACTOR,
            )
            return _row(added)

    data = run_db(work, settings_=config)
    if json_:
        print_json(data)
    else:
        out.print(f"connected {kind} {data['account_id']} to {tenant} ({data['id']})")


@channel_app.command("list")
def channel_list(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")], json_: JsonOpt = False
) -> None:
    """A tenant's channel connections (never their credentials)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            return [_row(c) for c in await connections.list_connections(session, row.id)]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "kind", "account", "status", "number")
    for item in rows:
        number = item["options"].get("phone_number") or ""
        table.add_row(item["id"], item["kind"], item["account_id"], item["status"], number)
    out.print(table)


@channel_app.command("remove")
def channel_remove(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    connection: Annotated[str, typer.Argument(help="The connection's id or account id.")],
) -> None:
    """Disconnect a channel account: its webhooks stop reaching the tenant at once."""

    async def work(db: Database) -> str:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            found = await connections.list_connections(session, row.id)
            match = next(
                (c for c in found if str(c.id) == connection or c.account_id == connection), None
            )
            if match is None:
                raise connections.ConnectionNotFound(f"{tenant} has no connection '{connection}'")
            await connections.remove_connection(session, row.id, match.id, actor=ACTOR)
            return f"{match.kind} {match.account_id}"

    removed = run_db(work)
    out.print(f"removed {removed} from {tenant}")
