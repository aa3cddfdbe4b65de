"""Operator commands for data rights and deletion: find, export and erase a contact; delete a
tenant with all of its data; sweep expired conversations."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.conversations import retention, rights
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.lifecycle import delete_tenant
from frontdesk.tenancy.service import to_context

contact_app = typer.Typer(
    help="Data rights over one contact: find, export, erase (habeas data, GDPR).",
    no_args_is_help=True,
)
retention_app = typer.Typer(help="Conversation retention.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
ACTOR = "cli"


def interactive() -> bool:
    """Whether a person can answer a question on this terminal."""
    return sys.stdin.isatty()


def confirm(question: str, *, yes: bool) -> None:
    """Go on with ``--yes`` or a person's yes; refuse without a terminal to ask on."""
    if yes:
        return
    if not interactive():
        fail("refusing without confirmation: no terminal to ask on; pass --yes")
    if not typer.confirm(question, default=False):
        fail("cancelled: nothing was changed", code=1)


def _contact_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"'{value}' is not a contact id")


@contact_app.command("find")
def contact_find(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Their phone number, any format.")] = None,
    channel_id: Annotated[
        str | None,
        typer.Option(help="The id a channel knows them by (WhatsApp number, user id, …)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Find a person's contacts by what they would give a support agent (any match)."""
    if not any(value and value.strip() for value in (email, phone, channel_id)):
        fail("give --email, --phone or --channel-id to search by")

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            context = to_context(await tenants.get_tenant(session, tenant))
            rows = await rights.find_contacts(
                session, context, email=email, phone=phone, channel_id=channel_id
            )
            return [
                {
                    "id": str(row.id),
                    "display_name": row.display_name,
                    "email": row.email,
                    "phone": row.phone,
                    "created_at": row.created_at.isoformat(),
                }
                for row in rows
            ]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    if not rows:
        out.print("no contact matches", highlight=False)
        return
    table = Table("name", "email", "phone")
    # The id is what the next command takes: never wrapped or cut.
    table.add_column("id", no_wrap=True, min_width=36)
    for row in rows:
        table.add_row(
            row["display_name"] or "-", row["email"] or "-", row["phone"] or "-", row["id"]
        )
    out.print(table)


@contact_app.command("export")
def contact_export(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    contact_id: Annotated[str, typer.Argument(help="The contact's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON here (mode 0600).")
    ] = None,
) -> None:
    """Everything held about one contact, as JSON: identities, conversations, messages, leads."""
    parsed = _contact_id(contact_id)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            context = to_context(await tenants.get_tenant(session, tenant))
            return await rights.export_contact(session, context, parsed, actor=ACTOR)

    data = run_db(work)
    if output is None:
        print_json(data)
        return
    body = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    try:
        # Personal data: readable by its owner only, from the moment the file exists.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(body)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    messages = sum(len(thread["messages"]) for thread in data["conversations"])
    out.print(
        f"exported contact {contact_id} to {output}: "
        f"{len(data['conversations'])} conversations, {messages} messages",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@contact_app.command("erase")
def contact_erase(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    contact_id: Annotated[str, typer.Argument(help="The contact's id.")],
    yes: YesOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Erase a contact and everything held about it. This cannot be undone."""
    parsed = _contact_id(contact_id)
    confirm(
        f"Erase contact {contact_id} of {tenant} with all its conversations? This cannot be undone",
        yes=yes,
    )

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            context = to_context(await tenants.get_tenant(session, tenant))
            report = await rights.erase_contact(session, context, parsed, actor=ACTOR)
            return report.as_dict()

    data = run_db(work)
    if json_:
        print_json(data)
        return
    out.print(
        f"erased contact {contact_id}: {data['conversations']} conversations, "
        f"{data['messages']} messages, {data['identities']} identities, {data['leads']} leads",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def tenant_delete(
    slug: Annotated[str, typer.Argument(help="The tenant's slug.")],
    yes: YesOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Delete a tenant and ALL of its data, on every instance at once. This cannot be undone."""
    config = settings()
    if slug == config.owner_slug:
        fail(f"'{slug}' is the owner tenant and cannot be deleted")
    confirm(f"Delete tenant {slug} and ALL of its data? This cannot be undone", yes=yes)

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            report = await delete_tenant(session, row, actor=ACTOR, owner_slug=config.owner_slug)
        return report.as_dict()

    data = run_db(work, settings_=config)
    if json_:
        print_json(data)
        return
    table = Table("table", "rows deleted")
    for name, count in sorted(data["counts"].items()):
        table.add_row(name, str(count))
    table.add_row("total", str(data["total"]))
    out.print(f"deleted tenant {slug} ({data['tenant_id']})", markup=False, highlight=False)
    out.print(table)


@retention_app.command("sweep")
def retention_sweep(json_: JsonOpt = False) -> None:
    """Delete every tenant's conversations older than its retention period, now."""

    async def work(db: Database) -> list[dict[str, Any]]:
        return [result.as_dict() for result in await retention.sweep_all(db)]

    rows = run_db(work)
    if json_:
        print_json(rows)
    else:
        table = Table("tenant", "retention (days)", "purged", "error")
        for row in rows:
            days = row["retention_days"]
            table.add_row(
                row["tenant"],
                "keep" if days is None else str(days),
                str(row["purged"]),
                row["error"] or "-",
            )
        out.print(table)
    if any(row["error"] for row in rows):
        raise typer.Exit(1)
