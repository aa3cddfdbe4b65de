"""Operator commands for a tenant's language model: its settings and its sealed API key.

The key is read from standard input or a hidden prompt, never from the command line, so it
does not land in the shell's history or the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.security import secrets as tenant_secrets
from frontdesk.security.crypto import SecretBox
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.schemas import LLMSettings, TenantSettings

ACTOR = "cli"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _read_key() -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt("API key", hide_input=True)
    else:
        value = sys.stdin.read(tenant_secrets.MAX_GIVEN_SECRET + 2)
    value = value.strip()
    if not value:
        fail("no key given: pipe it on standard input or type it at the prompt")
    return value


def _box() -> SecretBox:
    config = settings()
    try:
        return SecretBox(config.instance_key)
    except OSError as exc:
        fail(f"cannot read the instance key: {exc.strerror or exc}")


def tenant_llm_key(
    slug: Annotated[str, typer.Argument(help="The tenant's slug.")],
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the key instead of setting one.")
    ] = False,
) -> None:
    """Set the tenant's LLM API key, read from standard input or a hidden prompt (never an
    argument); the previous key stops at once."""
    box = _box()
    value = None if clear else _read_key()

    async def work(db: Database) -> str:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            if value is None:
                now = utcnow()
                rows = await tenant_secrets.list_secrets(session, row.id, purpose="llm")
                for secret in rows:
                    if tenant_secrets.is_active(secret, now):
                        await tenant_secrets.revoke_secret(session, row.id, secret.id, actor=ACTOR)
                return "removed"
            stored = await tenant_secrets.store_secret(
                session, box, row.id, purpose="llm", value=value, actor=ACTOR
            )
            return f"stored ({stored.hint})"

    outcome = run_db(work)
    out.print(f"{slug}: LLM key {outcome}", markup=False, highlight=False)


def tenant_llm(
    slug: Annotated[str, typer.Argument(help="The tenant's slug.")],
    provider: Annotated[
        str | None, typer.Option(help="grounded (offline, the default), openai or anthropic.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The model name, e.g. gpt-4o-mini.")] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="The server's base URL (https; http only on localhost)."),
    ] = None,
    api_key_header: Annotated[
        str | None, typer.Option(help="authorization (Bearer) or api-key (Azure).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per attempt.")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries after the first attempt.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Longest answer, in tokens.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Show the tenant's LLM settings, or change them (validated as a whole)."""
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("provider", provider),
            ("model", model),
            ("base_url", base_url),
            ("api_key_header", api_key_header),
            ("timeout_seconds", timeout),
            ("max_retries", retries),
            ("max_tokens", max_tokens),
            ("temperature", temperature),
        )
        if value is not None
    }

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as session:
            row = await tenants.get_tenant(session, slug)
            current = TenantSettings.model_validate(row.settings).llm
            if changes:
                merged = {**current.model_dump(mode="json"), **changes}
                updated = await tenants.update_settings(session, row, {"llm": merged}, actor=ACTOR)
                current = updated.llm
            keys = await tenant_secrets.list_secrets(session, row.id, purpose="llm")
            now = utcnow()
            hint = next((k.hint for k in keys if tenant_secrets.is_active(k, now)), None)
            return {**current.model_dump(mode="json"), "url": current.url, "key": hint}

    data = run_db(work)
    if json_:
        print_json(data)
        return
    if changes:
        out.print(f"updated {slug}: llm {', '.join(sorted(changes))}", markup=False)
    for name in (*LLMSettings.model_fields, "url", "key"):
        out.print(f"{name}: {data.get(name) if data.get(name) is not None else '-'}", markup=False)
