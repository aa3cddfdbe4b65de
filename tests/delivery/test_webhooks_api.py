"""Managing webhook endpoints over the API and the CLI: secrets, rotation, ping, isolation, SSRF."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from frontdesk.runtime import Runtime
from tests.delivery.receiver import Receiver
from tests.delivery.support import emit_event, hooked_tenant, invoke, jobs_of, runner_for
from tests.factories import SampleTenant, make_secret_key, make_tenant


async def manager(rt: Runtime) -> tuple[SampleTenant, dict[str, str]]:
    tenant = await make_tenant(rt, with_pack=False)
    key = await make_secret_key(rt, tenant, scopes=["webhooks:manage"])
    return tenant, {"Authorization": f"Bearer {key}"}


async def test_register_ping_rotate_and_remove_an_endpoint(
    local_hooks: Runtime, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    _, auth = await manager(local_hooks)
    created = await client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["lead.created", "message.created"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    endpoint: dict[str, Any] = created.json()
    first = endpoint["secret"]
    assert first.startswith("whsec_")
    assert endpoint["events"] == ["lead.created", "message.created"]
    path = f"/v1/webhooks/{endpoint['id']}"

    listed = (await client.get("/v1/webhooks", headers=auth)).json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert first not in json.dumps(listed)

    receiver.secrets = [first]
    ping = (await client.post(f"{path}/test", headers=auth)).json()
    assert ping["delivered"] is True
    assert ping["status"] == 204
    [delivery] = receiver.accepted("ping")
    assert delivery.webhook_id == ping["webhook_id"]
    assert delivery.body["data"]["endpoint_id"] == endpoint["id"]

    rotated = await client.post(
        f"{path}/rotate-secret", json={"overlap_seconds": 3600}, headers=auth
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["secret"]
    assert second.startswith("whsec_")
    assert second != first
    for secrets in ([first], [second]):  # during the overlap either secret verifies
        receiver.secrets = secrets
        assert (await client.post(f"{path}/test", headers=auth)).json()["delivered"] is True
    assert len(receiver.deliveries[-1].headers["webhook-signature"].split()) == 2

    changed = await client.patch(path, json={"events": ["*"], "enabled": False}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["enabled"]) == (["*"], False)

    assert (await client.delete(path, headers=auth)).status_code == 204
    gone = await client.get(path, headers=auth)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")


async def test_the_scope_is_required(runtime: Runtime, client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    key = await make_secret_key(runtime, tenant)  # conversations scopes only
    response = await client.get("/v1/webhooks", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert "webhooks:manage" in response.json()["detail"]


async def test_another_tenant_cannot_see_change_or_delete_an_endpoint(
    local_hooks: Runtime, receiver: Receiver, client: httpx.AsyncClient
) -> None:
    _, auth_a = await manager(local_hooks)
    _, auth_b = await manager(local_hooks)
    created = (await client.post("/v1/webhooks", json={"url": receiver.url}, headers=auth_a)).json()
    path = f"/v1/webhooks/{created['id']}"
    assert (await client.get("/v1/webhooks", headers=auth_b)).json() == []
    for method, extra in (
        ("GET", {}),
        ("PATCH", {"json": {"enabled": False}}),
        ("DELETE", {}),
        ("POST", {}),
    ):
        url = f"{path}/rotate-secret" if method == "POST" else path
        response = await client.request(method, url, headers=auth_b, **extra)
        assert response.status_code == 404, (method, response.text)
    still = (await client.get(path, headers=auth_a)).json()
    assert still["enabled"] is True


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "https://127.0.0.1/hooks"}, "loopback"),
        ({"url": "http://hooks.example.com/"}, "https"),
        ({"url": "https://169.254.169.254/latest"}, "link-local"),
        ({"url": "https://metadata.google.internal/"}, "internal name"),
        ({"url": "https://hooks.example.com/", "events": ["lead.deleted"]}, "unknown event"),
        ({"url": "https://hooks.example.com/", "events": ["*", "lead.created"]}, "alone"),
    ],
)
async def test_registration_refuses_unsafe_urls_and_unknown_events(
    runtime: Runtime,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    body: dict[str, Any],
    reason: str,
) -> None:
    async def public(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34"]

    monkeypatch.setattr(runtime.webhooks.guard, "resolver", public)
    _, auth = await manager(runtime)
    response = await client.post("/v1/webhooks", json=body, headers=auth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert reason in response.json()["detail"]


async def test_a_name_that_turns_local_after_registration_is_never_called(
    held: Runtime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"hooks.rebind.example.com": ["93.184.216.34"]}

    async def resolver(host: str, port: int) -> Sequence[str]:
        return answers[host]

    monkeypatch.setattr(held.webhooks.guard, "resolver", resolver)
    url = f"https://hooks.rebind.example.com:{receiver.port}/hooks"
    hooked = await hooked_tenant(held, receiver, url=url)
    answers["hooks.rebind.example.com"] = ["127.0.0.1"]  # DNS rebinding
    await emit_event(held, hooked, "lead:rebind")
    await runner_for(held).run_due()
    [job] = await jobs_of(held, hooked.context.id)
    assert job.status == "dead"
    assert "resolves to a loopback address" in (job.last_error or "")
    assert receiver.connections == 0


def test_cli_add_list_rotate_remove(tmp_path: Any) -> None:
    env = {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "z" * 32,
        "FRONTDESK_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = invoke(
        env, "webhook", "add", "acme", "http://127.0.0.1:9/hooks", "--event", "lead.created",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    added = json.loads(out)
    assert added["secret"].startswith("whsec_")
    assert added["events"] == ["lead.created"]

    code, out, _ = invoke(env, "webhook", "list", "acme", "--json")
    assert [e["id"] for e in json.loads(out)] == [added["id"]]
    assert added["secret"] not in out

    code, out, _ = invoke(env, "webhook", "rotate-secret", "acme", added["id"], "--json")
    assert code == 0
    assert json.loads(out)["secret"] not in {added["secret"], ""}

    code, _, err = invoke(env, "webhook", "add", "acme", "ftp://example.com/", "--event", "x")
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1

    code, _, err = invoke(env, "webhook", "remove", "acme", "not-an-id")
    assert code == 2
    assert "not a webhook endpoint id" in err
    assert invoke(env, "webhook", "remove", "acme", added["id"])[0] == 0
    code, _, err = invoke(env, "webhook", "remove", "acme", added["id"])
    assert code == 2
    assert "no webhook endpoint" in err


def test_cli_refuses_private_urls_without_the_development_setting(tmp_path: Any) -> None:
    env = {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "z" * 32,
    }
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, _, err = invoke(env, "webhook", "add", "acme", "https://10.0.0.8/hooks")
    assert code == 2
    assert "private address" in err


async def test_jobs_cli_refuses_bad_input(cli_env: dict[str, str]) -> None:
    code, _, err = await asyncio.to_thread(invoke, cli_env, "jobs", "retry")
    assert code == 2
    assert "job ids or --all-dead" in err
    code, _, err = await asyncio.to_thread(invoke, cli_env, "jobs", "retry", "nope")
    assert code == 2
    assert "'nope' is not a job id" in err
    code, _, err = await asyncio.to_thread(
        invoke, cli_env, "jobs", "list", "--tenant", "no-such-tenant"
    )
    assert code == 2
    assert "no tenant" in err
