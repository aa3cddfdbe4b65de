"""The web chat end to end over real HTTP: SSE replies, resume after a drop, a server restart."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from frontdesk.security.keys import create_key
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.repository import TenantTable
from tests.conftest import LiveServer
from tests.factories import PACK


def _start(http: httpx.Client, key: str, token: str | None = None) -> dict[str, Any]:
    headers = {"X-FrontDesk-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = http.post(
        "/web/v1/colombiatic/conversations", headers=headers, json={"locale": "es-CO"}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _owner_key(http: httpx.Client) -> str:
    page = http.get("/").text
    marker = '"publishableKey":"'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def _admin(http: httpx.Client, key: str, method: str, path: str, body: Any = None) -> Any:
    response = http.request(method, path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 300, response.text
    return response.json()


def _admin_key(settings: Settings) -> str:
    """An admin-scoped secret key of the owner tenant, made in the servers' database."""

    async def make() -> str:
        db = Database(settings)
        try:
            async with db.session() as session:
                owner = await TenantTable(session).by_slug(settings.owner_slug)
                assert owner is not None
                issued = await create_key(
                    session, owner.id, kind="secret", name="ops", actor="test", scopes=["admin"]
                )
                return issued.key
        finally:
            await db.dispose()

    return asyncio.run(make())


def _send(http: httpx.Client, chat: dict[str, Any], text: str) -> int:
    response = http.post(
        f"/web/v1/colombiatic/conversations/{chat['conversation']['id']}/messages",
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
        json={"text": text},
    )
    assert response.status_code == 202, response.text
    return int(response.json()["seq"])


def _read(
    http: httpx.Client, chat: dict[str, Any], *, last_event_id: int | None, count: int
) -> list[dict[str, Any]]:
    """Open the event stream, read ``count`` message events, then drop the connection."""
    headers = {"Authorization": f"Bearer {chat['visitor_token']}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    messages: list[dict[str, Any]] = []
    with connect_sse(
        http,
        "GET",
        f"/web/v1/colombiatic/conversations/{chat['conversation']['id']}/events",
        headers=headers,
    ) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for event in source.iter_sse():
            if event.event != "message":
                continue
            message = json.loads(event.data)
            assert event.id == str(message["seq"])
            messages.append(message)
            if len(messages) == count:
                break
    return messages


def test_sse_delivers_replies_and_resumes_after_a_drop(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=15) as http:
        key = _owner_key(http)
        chat = _start(http, key)

        seq = _send(http, chat, "Hola, ¿cuánto cuesta una tienda en línea?")
        first = _read(http, chat, last_event_id=None, count=2)
        assert [m["seq"] for m in first] == [seq, seq + 1]
        assert [m["direction"] for m in first] == ["in", "out"]
        store = PACK.service("online-store")
        assert store is not None
        assert store.name.get("es") in first[1]["text"]

        # The connection is gone; the visitor writes again and the reply is stored meanwhile.
        second_seq = _send(http, chat, "How much does a website cost?")
        resumed = _read(http, chat, last_event_id=first[-1]["seq"], count=2)
        assert [m["seq"] for m in resumed] == [second_seq, second_seq + 1]
        assert resumed[1]["direction"] == "out"
        assert resumed[1]["payload"]["language"] == "en"


def test_a_restart_keeps_the_conversation_and_its_history(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=15) as http:
        key = _owner_key(http)
        chat = _start(http, key)
        seq = _send(http, chat, "Necesito una página web para mi empresa")
        _read(http, chat, last_event_id=seq - 1, count=2)
    live_server.__exit__()

    with (
        LiveServer(live_server.settings) as again,
        httpx.Client(base_url=again.url, timeout=15) as http,
    ):
        resumed = _start(http, key, token=chat["visitor_token"])
        assert resumed["resumed"] is True
        assert resumed["conversation"]["id"] == chat["conversation"]["id"]
        history = http.get(
            f"/web/v1/colombiatic/conversations/{chat['conversation']['id']}/messages",
            headers={"Authorization": f"Bearer {resumed['visitor_token']}"},
        ).json()
        assert [m["direction"] for m in history["messages"]] == ["in", "out"]
        assert history["messages"][0]["text"] == "Necesito una página web para mi empresa"


def test_two_instances_share_events_through_redis(live_server: LiveServer, redis_url: str) -> None:
    """A message sent to one instance is answered, and streamed by another, via Redis."""
    live_server.__exit__()
    shared = live_server.settings.model_copy(update={"redis_url": redis_url})
    with (
        LiveServer(shared) as a,
        LiveServer(shared) as b,
        httpx.Client(base_url=a.url, timeout=15) as on_a,
        httpx.Client(base_url=b.url, timeout=15) as on_b,
    ):
        chat = _start(on_a, _owner_key(on_a))
        seq = _send(on_a, chat, "¿Hacen apps móviles?")
        streamed = _read(on_b, chat, last_event_id=seq - 1, count=2)
        assert [m["direction"] for m in streamed] == ["in", "out"]
        # Live, not only replayed: the stream on B is open before A receives the message.
        messages: list[dict[str, Any]] = []
        headers = {
            "Authorization": f"Bearer {chat['visitor_token']}",
            "Last-Event-ID": str(seq + 1),
        }
        path = f"/web/v1/colombiatic/conversations/{chat['conversation']['id']}/events"
        with connect_sse(on_b, "GET", path, headers=headers) as source:
            _send(on_a, chat, "Gracias")
            for event in source.iter_sse():
                if event.event == "message":
                    messages.append(json.loads(event.data))
                    if len(messages) == 2:
                        break
        assert [m["seq"] for m in messages] == [seq + 2, seq + 3]


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "invalidation-log"])
def test_a_change_on_one_instance_reaches_the_other_within_a_second(
    live_server: LiveServer, with_redis: bool, request: pytest.FixtureRequest
) -> None:
    """Suspending a tenant on instance A refuses its requests on instance B at once."""
    live_server.__exit__()
    update = {"redis_url": request.getfixturevalue("redis_url")} if with_redis else {}
    shared = live_server.settings.model_copy(update=update)
    with (
        LiveServer(shared) as a,
        LiveServer(shared) as b,
        httpx.Client(base_url=a.url, timeout=15) as on_a,
        httpx.Client(base_url=b.url, timeout=15) as on_b,
    ):
        key = _admin_key(shared)
        created = _admin(
            on_a, key, "POST", "/v1/admin/tenants", {"slug": "tienda-norte", "name": "Norte"}
        )
        web = {"X-FrontDesk-Key": created["publishable_key"]}
        # B caches the tenant as active.
        assert on_b.post("/web/v1/tienda-norte/conversations", headers=web).status_code == 200
        _admin(on_a, key, "POST", "/v1/admin/tenants/tienda-norte/suspend")
        deadline = time.monotonic() + 1.5
        status = 200
        while time.monotonic() < deadline and status == 200:
            status = on_b.post("/web/v1/tienda-norte/conversations", headers=web).status_code
            time.sleep(0.05)
        assert status == 403
