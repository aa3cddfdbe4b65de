"""Liveness, readiness and metrics."""

from __future__ import annotations

import httpx

from frontdesk.store.migrate import head_revision


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_current_migration(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["revision"] == head_revision()


async def test_metrics_are_prometheus_and_prefixed(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {line.split(" ")[2] for line in response.text.splitlines() if line.startswith("# TYPE")}
    assert names
    assert all(name.startswith("frontdesk_") for name in names)
    assert (
        'frontdesk_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
    )


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
    assert response.headers["x-request-id"] == "req-12345678"


async def test_demo_page_embeds_the_owner_tenant(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '"tenant":"colombiatic"' in response.text
    assert '"publishableKey":"pk_' in response.text
