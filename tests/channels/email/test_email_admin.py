"""The operator connects a support address over the admin API: the address is the account
(lower case), secrets are never returned, an IMAP connection gets its first poll at once."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from frontdesk.channels.email.schedule import POLL_JOB
from frontdesk.delivery.models import OutboxJob
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.conftest import free_port
from tests.factories import make_tenant
from tests.gateway.test_admin import _owner_admin_key


async def test_connect_an_address_over_the_admin_api(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    headers = {"Authorization": f"Bearer {await _owner_admin_key(runtime)}"}
    base = f"/v1/admin/tenants/{tenant.slug}/channels"
    body = {
        "kind": "email",
        "account_id": f"Soporte-{tenant.slug}@Acme.example",
        "credentials": {"smtp_password": "smtp-secret-password", "imap_password": "imap-secret"},
        # Nothing listens there: the first poll fails at once, and says so on the mailbox.
        "options": {
            "smtp_host": "smtp.acme.example",
            "imap_host": "127.0.0.1",
            "imap_port": free_port(),
        },
    }
    created = await client.post(base, json=body, headers=headers)
    assert created.status_code == 201, created.text
    connection = created.json()
    assert connection["account_id"] == f"soporte-{tenant.slug}@acme.example"
    assert connection["options"]["inbound"] == "imap"
    assert "smtp-secret-password" not in created.text
    assert "imap-secret" not in created.text
    async with runtime.db.session() as session, system_scope(session):
        polls = await session.scalars(
            select(OutboxJob).where(
                OutboxJob.tenant_id == tenant.context.id, OutboxJob.kind == POLL_JOB
            )
        )
        assert [job.payload["connection_id"] for job in polls] == [connection["id"]]
    bad = await client.post(
        base,
        json=body | {"account_id": "otra@acme.example", "options": {"smtp_host": "no es host"}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
