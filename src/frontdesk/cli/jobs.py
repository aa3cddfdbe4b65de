"""Operator commands for the outbox: list jobs (dead letters above all) and retry dead ones."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from frontdesk.cli.common import fail, out, print_json, run_db
from frontdesk.delivery import service as outbox
from frontdesk.delivery.models import OutboxJob
from frontdesk.store.db import Database
from frontdesk.store.scope import system_scope
from frontdesk.tenancy import service as tenants

jobs_app = typer.Typer(help="List outbox jobs and retry dead letters.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Only this tenant (slug).")]


def _row(job: OutboxJob, slug: str | None) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "tenant": slug or str(job.tenant_id),
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": job.run_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "last_error": job.last_error,
    }


async def _tenant_id(db_session: Any, slug: str | None) -> uuid.UUID | None:
    return None if slug is None else (await tenants.get_tenant(db_session, slug)).id


@jobs_app.command("list")
def jobs_list(
    tenant: TenantOpt = None,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead letters.")] = False,
    kind: Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    json_: JsonOpt = False,
) -> None:
    """Jobs, most recently changed first, with their attempts and last error."""

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as session, system_scope(session):
            tenant_id = await _tenant_id(session, tenant)
            slugs = {t.id: t.slug for t in await tenants.list_tenants(session)}
            rows = await outbox.list_jobs(
                session,
                tenant_id=tenant_id,
                status="dead" if dead else None,
                kind=kind,
                limit=limit,
            )
            return [_row(job, slugs.get(job.tenant_id)) for job in rows]

    rows = run_db(work)
    if json_:
        print_json(rows)
        return
    table = Table("id", "tenant", "kind", "status", "attempts", "run at", "last error")
    for row in rows:
        table.add_row(
            row["id"],
            row["tenant"],
            row["kind"],
            row["status"],
            f"{row['attempts']}/{row['max_attempts']}",
            row["run_at"][:19],
            (row["last_error"] or "")[:80],
        )
    out.print(table)


@jobs_app.command("retry")
def jobs_retry(
    job_ids: Annotated[list[str] | None, typer.Argument(help="Dead jobs to run again.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead letter.")] = False,
    tenant: TenantOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Put dead letters back in the queue, their attempts reset."""
    if bool(job_ids) == all_dead:
        fail("give job ids or --all-dead (not both)")
    if tenant is not None and not all_dead:
        fail("--tenant goes with --all-dead")
    ids: list[uuid.UUID] = []
    for value in job_ids or []:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            fail(f"'{value[:64]}' is not a job id")

    async def work(db: Database) -> list[uuid.UUID]:
        async with db.session() as session, system_scope(session):
            tenant_id = await _tenant_id(session, tenant)
            return await outbox.retry_dead(
                session, job_ids=ids if ids else None, tenant_id=tenant_id
            )

    retried = run_db(work)
    missing = sorted(set(ids) - set(retried), key=str)
    if json_:
        print_json({"retried": [str(i) for i in retried], "not_dead": [str(i) for i in missing]})
    else:
        out.print(f"{len(retried)} job(s) back in the queue", markup=False, highlight=False)
    if missing:
        fail(f"not dead letters (or no such jobs): {', '.join(str(i) for i in missing)}")
