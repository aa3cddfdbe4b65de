"""Connecting a Messenger page and an Instagram account: ``frontdesk channel add`` with
``--page-id`` / ``--account-id`` and the admin API; secrets sealed, options validated."""

from __future__ import annotations

import json

import httpx

from frontdesk.runtime import Runtime
from tests.channels import meta
from tests.cli.test_cli import env, invoke  # noqa: F401 - the env fixture
from tests.factories import make_tenant
from tests.gateway.test_admin import _owner_admin_key

SECRETS = (
    "--app-secret",
    "page-app-secret-123",
    "--verify-token",
    "page-verify-123",
    "--access-token",
    "EAAG-page-token-secret",
)


def test_add_a_messenger_page_and_an_instagram_account(env: dict[str, str]) -> None:  # noqa: F811
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = invoke(
        env, "channel", "add", "acme", "messenger", "--page-id", "104729551234567", *SECRETS,
        "--set", "human_agent_tag=true", "--json",
    )  # fmt: skip
    assert code == 0, err
    page = json.loads(out)
    assert (page["kind"], page["account_id"]) == ("messenger", "104729551234567")
    assert page["options"] == {"human_agent_tag": True}
    assert "EAAG-page-token-secret" not in out
    code, out, err = invoke(
        env, "channel", "add", "acme", "instagram", "--account-id", "17841405822304914",
        *SECRETS, "--set", "page_id=104729551234567", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["options"]["page_id"] == "104729551234567"
    code, out, _ = invoke(env, "channel", "list", "acme", "--json")
    assert sorted(c["kind"] for c in json.loads(out)) == ["instagram", "messenger"]
    assert "page-app-secret-123" not in out
    # Without an account, or with a bad option: one line, exit code 2.
    code, _, err = invoke(env, "channel", "add", "acme", "messenger", *SECRETS)
    assert (code, err.strip()) == (2, "error: messenger needs the account: --page-id")
    code, _, err = invoke(
        env, "channel", "add", "acme", "instagram", "--account-id", "1784", *SECRETS,
        "--set", "page_id=not-a-page",
    )  # fmt: skip
    assert code == 2
    assert err.strip().startswith("error: page_id:")
    assert len(err.strip().splitlines()) == 1


async def test_the_operator_connects_a_page_over_the_admin_api(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    headers = {"Authorization": f"Bearer {await _owner_admin_key(runtime)}"}
    base = f"/v1/admin/tenants/{tenant.slug}/channels"
    account_id = f"1047{tenant.slug[-8:].encode().hex()[:10]}"
    body = {"kind": "messenger", "account_id": account_id, "credentials": meta.PAGE_CREDENTIALS}
    created = await client.post(base, json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert meta.PAGE_CREDENTIALS["access_token"] not in created.text
    found = await runtime.tenants.by_channel_account("messenger", account_id)
    assert found is not None
    assert found.id == tenant.context.id
    assert await runtime.tenants.by_channel_account("instagram", account_id) is None
    bad = await client.post(
        base, json=body | {"kind": "instagram", "options": {"tag": True}}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
