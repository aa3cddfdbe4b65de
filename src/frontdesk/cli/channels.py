"""``frontdesk channel``: connect, list and remove a tenant's channel accounts."""

from __future__ import annotations

import sys
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

channel_app = typer.Typer(help="Connect tenants' channel accounts.", no_args_is_help=True)
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
    kind: Annotated[str, typer.Argument(help="The channel: " + ", ".join(connections.KINDS) + ".")],
    account: Annotated[
        str | None,
        typer.Option(
            "--phone-number-id",
            "--page-id",
            "--account-id",
            "--address",
            help="The provider's id of the account: WhatsApp's phone-number id, the Messenger "
            "page id, the Instagram account id, the mailbox address, the CRM account.",
        ),
    ] = None,
    app_secret: Annotated[
        str | None, typer.Option(help="Meta: the app's secret (asked for if omitted).")
    ] = None,
    verify_token: Annotated[
        str | None, typer.Option(help="Meta: the webhook verify token you chose in the app.")
    ] = None,
    access_token: Annotated[
        str | None,
        typer.Option(
            help="The token that sends: a system user's or page's (asked for if omitted)."
        ),
    ] = None,
    phone_number: Annotated[
        str | None, typer.Option(help="WhatsApp: the number customers see, for wa.me links: +57…")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="WhatsApp: approved template that re-opens a conversation after 24 h."),
    ] = None,
    template_language: Annotated[
        str | None, typer.Option(help="WhatsApp: the template's language code (es).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Any other setting or credential of the channel (repeatable); secrets the "
            "channel needs and that are not given are asked for.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Connect a channel account to a tenant; its credentials are sealed, never shown again."""
    if kind not in connections.KINDS:
        fail(f"unknown channel '{kind}': one of {', '.join(connections.KINDS)}")
    if not account:
        fail(f"{kind} needs the account: --{connections.ACCOUNT_FLAGS[kind]}")
    given = {
        "app_secret": app_secret,
        "verify_token": verify_token,
        "access_token": access_token,
        "phone_number": phone_number,
        "reengagement_template": template,
        "template_language": template_language,
    }
    credentials, options = _split_settings(kind, given, set_ or [])
    config = settings()
    box = _box(config)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            added = await connections.add_connection(
                session,
                box,
                row.id,
                kind=kind,
                account_id=account,
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


def _split_settings(
    kind: str, given: dict[str, str | None], pairs: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The kind's credentials and options from the named flags and ``--set KEY=VALUE``; a
    required secret not given is asked for (hidden), or refused when there is no terminal."""
    secret_fields = connections.CREDENTIALS[kind].model_fields
    option_fields = connections.OPTIONS[kind].model_fields
    values = {key: value for key, value in given.items() if value is not None}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            fail(f"--set takes KEY=VALUE, not '{pair[:40]}'")
        values[key] = value
    unknown = sorted(set(values) - set(secret_fields) - set(option_fields))
    if unknown:
        fail(f"{kind} has no setting {', '.join(unknown)}")
    credentials = {k: v for k, v in values.items() if k in secret_fields}
    for name, field in secret_fields.items():
        if name in credentials or not field.is_required():
            continue
        if not sys.stdin.isatty():
            fail(f"{kind} needs --{name.replace('_', '-')}")
        credentials[name] = typer.prompt(name.replace("_", " "), hide_input=True)
    options = {k: v for k, v in values.items() if k in option_fields}
    return credentials, options


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
