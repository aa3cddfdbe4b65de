"""``frontdesk worker``: the jobs a web-only process (``FRONTDESK_RUN_JOBS=false``) leaves are
done by a worker process of their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from frontdesk.app import create_app
from frontdesk.cli.serve import run_worker
from frontdesk.conversations.models import Message
from frontdesk.runtime import build_runtime
from frontdesk.settings import Settings
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.owner import ensure_owner
from tests.conftest import fresh_database
from tests.factories import make_tenant, start_chat


@pytest.fixture
def web_only(backend: str, settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    with fresh_database(backend, tmp_path) as url:
        yield settings.model_copy(
            update={"database_url": url, "data_dir": tmp_path, "run_jobs": False}
        )


async def test_a_worker_answers_what_a_web_only_process_stored(web_only: Settings) -> None:
    web = build_runtime(web_only)
    await ensure_owner(web.db, web_only)
    await web.start()
    stop = asyncio.Event()
    worker = None
    try:
        tenant = await make_tenant(web)
        transport = httpx.ASGITransport(app=create_app(web_only, runtime=web))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            chat = await start_chat(http, tenant)
            sent = await http.post(
                f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
                json={"text": "Hola, ¿cuánto cuesta una tienda virtual?"},
                headers={"Authorization": f"Bearer {chat['visitor_token']}"},
            )
            assert sent.status_code == 202

        async def replies() -> list[Message]:
            async with web.db.session() as session, system_scope(session):
                rows = await session.scalars(
                    select(Message).where(
                        Message.tenant_id == tenant.context.id, Message.direction == "out"
                    )
                )
                return list(rows)

        await asyncio.sleep(0.3)
        assert await replies() == []  # the web process runs no jobs
        worker = asyncio.create_task(
            run_worker(web_only.model_copy(update={"run_jobs": True}), stop)
        )
        deadline = asyncio.get_running_loop().time() + 15
        while not await replies():
            assert not worker.done(), worker
            assert asyncio.get_running_loop().time() < deadline, "the worker did not answer"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        if worker is not None:
            await asyncio.wait_for(worker, 10)
        await web.stop()
