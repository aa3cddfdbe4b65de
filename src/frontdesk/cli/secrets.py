"""Operator commands for a tenant's shared secrets: rotate (the value is shown once) and list."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.security import secrets as tenant_secrets
from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import TenantSecret
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants

secret_app = typer.Typer(
    help="Rotate and list a tenant's shared secrets (api, webhook, identity).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ACTOR = "cli"
MAX_OVERLAP = timedelta(days=30)
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_DURATION = re.compile(r"([0-9]{1,6})([smhd]?)")


class PurposeChoice(StrEnum):
    api = "api"
    webhook = "webhook"
    identity = "identity"
    crm = "crm"

    @property
    def purpose(self) -> tenant_secrets.SecretPurpose:
        """The choice as the service's purpose type."""
        return _PURPOSES[self.value]


_PURPOSES: dict[str, tenant_secrets.SecretPurpose] = {p: p for p in tenant_secrets.PURPOSES}


def parse_overlap(text: str) -> timedelta:
    """``0``, ``90s``, ``30m``, ``24h`` or ``7d`` as a duration of at most 30 days."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or (int(match.group(1)) and not match.group(2)):
        fail(f"invalid overlap '{text}': use 0 or a number with s, m, h or d (e.g. 30m, 24h, 7d)")
    amount, unit = int(match.group(1)), match.group(2) or "s"
    overlap = timedelta(**{UNITS[unit]: amount})
    if overlap > MAX_OVERLAP:
        fail(f"invalid overlap '{text}': at most {MAX_OVERLAP.days}d")
    return overlap


def _when(overlap: timedelta) -> str:
    """When older secrets stop, in the largest whole unit: ``at once``, ``in 24h``, ``in 90s``."""
    seconds = int(overlap.total_seconds())
    if not seconds:
        return "at once"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"in {seconds // size}{unit}"
    return f"in {seconds}s"


def _row(row: TenantSecret) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "purpose": row.purpose,
        "hint": row.hint,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "active": tenant_secrets.is_active(row, utcnow()),
    }


@secret_app.command("rotate")
def secret_rotate(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    purpose: Annotated[
        PurposeChoice,
        typer.Option(help="api (requests to us), webhook (ours to the tenant) or identity."),
    ],
    overlap: Annotated[
        str, typer.Option(help="How long older secrets keep working: 0, 30m, 24h, 7d.")
    ] = "24h",
    json_: JsonOpt = False,
) -> None:
    """Issue a new secret (shown this once); older ones of that purpose stop after the overlap."""
    window = parse_overlap(overlap)
    config = settings()
    try:
        box = SecretBox(config.instance_key)
    except OSError as exc:
        fail(f"cannot read the instance key: {exc.strerror or exc}")

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            issued = await tenant_secrets.rotate_secret(
                session, box, row.id, purpose=purpose.purpose, overlap=window, actor=ACTOR
            )
            return {**_row(issued.row), "secret": issued.value}

    data = run_db(work, settings_=config)
    if json_:
        print_json({**data, "overlap_seconds": int(window.total_seconds())})
        return
    out.print(
        f"{data['purpose']} secret {data['id']}\n{data['secret']}\n"
        f"(store it now: it is not shown again)\n"
        f"older {data['purpose']} secrets stop working {_when(window)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@secret_app.command("list")
def secret_list(
    tenant: Annotated[str, typer.Argument(help="The tenant's slug.")],
    purpose: Annotated[PurposeChoice | None, typer.Option(help="Only this purpose.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List a tenant's secrets, newest first (hints only, never values)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, tenant)
            rows = await tenant_secrets.list_secrets(
                session, row.id, purpose=purpose.purpose if purpose else None
            )
            return [_row(secret) for secret in rows]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "purpose", "hint", "created", "expires", "active")
    for row in rows:
        table.add_row(
            row["id"],
            row["purpose"],
            row["hint"] + "…",
            row["created_at"],
            row["expires_at"] or "-",
            "yes" if row["active"] else "no",
        )
    out.print(table)
