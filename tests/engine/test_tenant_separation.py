"""The engine of one tenant sees only that tenant's pack: its retrieval, the prompt a language
model would get, and its answers over HTTP never hold another tenant's services or prices."""

from __future__ import annotations

from typing import Any

import httpx

from frontdesk.engine.grounding import search
from frontdesk.engine.llm.draft import Draft
from frontdesk.engine.llm.prompt import build_request
from frontdesk.engine.packs import ContextPack
from frontdesk.runtime import Runtime
from tests.factories import PACK, chat_with, make_tenant, wait_for_reply

SECRET_NAME = "Servicio Fantasma Exclusivo"


def pack_with_a_secret_service() -> ContextPack:
    data: dict[str, Any] = PACK.model_dump(mode="json")
    service = dict(data["services"][0])
    service.update(
        id="servicio-fantasma",
        name={"es": SECRET_NAME, "en": "Exclusive Phantom Service"},
        keywords={"es": ["fantasma", "exclusivo"], "en": ["phantom", "exclusive"]},
        price={**service["price"], "cop_min": 7_777_000, "cop_max": 8_888_000},
        featured=False,
    )
    data["services"] = [*data["services"], service]
    return ContextPack.model_validate(data)


async def test_another_tenants_pack_never_reaches_this_tenants_engine(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    owner_of_secret = await make_tenant(runtime, pack=pack_with_a_secret_service())
    other = await make_tenant(runtime)
    secret_pack = (await runtime.tenants.by_id(owner_of_secret.context.id)).pack
    other_pack = (await runtime.tenants.by_id(other.context.id)).pack
    assert secret_pack is not None
    assert other_pack is not None

    # Retrieval: the index of each pack is its own, even for identical queries.
    assert "servicio-fantasma" in {
        h.service_id for h in search(secret_pack, "servicio fantasma exclusivo", "es", k=3)
    }
    assert "servicio-fantasma" not in {
        h.service_id for h in search(other_pack, "servicio fantasma exclusivo", "es", k=10)
    }

    # The prompt a language model would get holds only the tenant's own pack.
    question = "el servicio fantasma exclusivo"
    hits = search(other_pack, question, "es", k=3)
    draft = Draft(kind="fallback", language="es")
    request = build_request(other_pack, draft, [("visitor", question)], hits=hits)
    system = f"{request.instructions} {request.pack_data}"
    assert SECRET_NAME not in system
    assert "7777000" not in system
    assert "7.777.000" not in system
    own_hits = search(secret_pack, question, "es", k=3)
    own = build_request(secret_pack, draft, [("visitor", question)], hits=own_hits)
    assert SECRET_NAME in f"{own.instructions} {own.pack_data}"

    # Over HTTP: asking the other tenant about it gets nothing of it.
    chat = await chat_with(client, other, "Cuánto cuesta el Servicio Fantasma Exclusivo?")
    reply = await wait_for_reply(client, other, chat, after=1)
    assert SECRET_NAME not in reply["text"]
    assert "7.777.000" not in reply["text"]
    assert all(
        card["service_id"] != "servicio-fantasma" for card in reply["payload"].get("cards", [])
    )
