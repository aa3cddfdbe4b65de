"""``frontdesk channel add TENANT hubspot``: the portal connected with its secrets sealed and its
options (JSON given with ``--set``) validated; bad input is one line and exit code 2."""

from __future__ import annotations

import asyncio

from frontdesk.channels.connections import list_connections
from frontdesk.runtime import Runtime
from tests.delivery.support import invoke
from tests.factories import make_tenant


async def test_a_portal_is_connected_from_the_command_line(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    tenant = await make_tenant(runtime)
    code, out, err = await asyncio.to_thread(
        invoke,
        cli_env,
        "channel",
        "add",
        tenant.slug,
        "hubspot",
        "--account-id",
        "24681357",
        "--access-token",
        "pat-na1-cli-token-0001",
        "--set",
        "client_secret=hubspot-cli-client-secret",
        "--set",
        'stages={"ready_to_buy": "contractsent"}',
        "--set",
        'stage_messages={"contractsent": "Te enviamos la propuesta"}',
        "--json",
    )
    assert code == 0, err
    assert "pat-na1" not in out
    assert "client-secret" not in out
    async with runtime.db.session() as session:
        [row] = await list_connections(session, tenant.context.id)
    assert (row.kind, row.account_id) == ("hubspot", "24681357")
    assert row.options["stages"] == {
        "browsing": "appointmentscheduled",
        "interested": "qualifiedtobuy",
        "evaluating": "presentationscheduled",
        "ready_to_buy": "contractsent",
    }
    assert row.options["stage_messages"] == {"contractsent": "Te enviamos la propuesta"}

    bad = await asyncio.to_thread(
        invoke,
        cli_env,
        "channel",
        "add",
        tenant.slug,
        "hubspot",
        "--account-id",
        "13572468",
        "--access-token",
        "pat-na1-cli-token-0002",
        "--set",
        "client_secret=hubspot-cli-client-secret",
        "--set",
        "stages={not json",
    )
    assert bad[0] == 2
    assert len(bad[2].strip().splitlines()) == 1
