"""Running a scripted conversation over HTTP through the web chat, turn by turn."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from sqlalchemy import select

from frontdesk.delivery.models import OutboxJob
from frontdesk.engine.grounding.guard import check, extract_amounts
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from frontdesk.tenancy.service import get_tenant, update_settings
from tests.factories import PACK, SampleTenant, make_tenant, start_chat, wait_for_reply

OPEN_HOURS = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Bogotá
AFTER_HOURS = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # a Sunday

Move = Literal["up", "down", "same", "any"]


@dataclass(frozen=True)
class Turn:
    """One customer message and what must come of it (``None``: not checked)."""

    text: str
    agent: str | None = None
    """The router's agent; ``"silent"``: the bot must not answer."""
    intents: tuple[str, ...] | None = None
    actions: tuple[str, ...] = ()
    """Actions the reply must carry."""
    no_actions: tuple[str, ...] = ()
    score: Move = "any"
    stage: str | None = None
    says: tuple[str, ...] = ()
    """Fragments the reply's text must contain (case-insensitive)."""
    never_says: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Script:
    name: str
    language: str
    turns: tuple[Turn, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    at: datetime = OPEN_HOURS
    lead: bool | None = None
    """Whether a lead must exist at the end."""


@dataclass
class Outcome:
    """What each turn got: the inbound message and the reply (``None`` when silent)."""

    chat: dict[str, Any]
    inbound: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any] | None] = field(default_factory=list)

    def decisions(self) -> Iterator[dict[str, Any]]:
        for reply in self.replies:
            if reply is not None:
                yield reply["payload"]["decision"]


async def tenant_for(rt: Runtime, settings: dict[str, Any]) -> SampleTenant:
    tenant = await make_tenant(rt)
    if settings:
        async with rt.db.session() as session:
            row = await get_tenant(session, tenant.slug)
            await update_settings(session, row, settings, actor="test")
        rt.tenants.invalidate(tenant.slug)
        tenant = SampleTenant(
            context=await rt.tenants.by_id(tenant.context.id),
            publishable_key=tenant.publishable_key,
        )
    return tenant


async def decided(rt: Runtime, tenant: SampleTenant, message_id: str) -> None:
    """Wait until the engine's job on ``message_id`` has finished."""
    key = f"decide:{message_id}"
    for _ in range(500):
        async with rt.db.session() as session, system_scope(session):
            job = (
                await session.execute(
                    select(OutboxJob).where(
                        OutboxJob.tenant_id == tenant.context.id,
                        OutboxJob.idempotency_key == key,
                    )
                )
            ).scalar_one_or_none()
        if job is not None and job.status in ("done", "dead"):
            assert job.status == "done", job.last_error
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the engine never finished deciding")


async def send(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any], text: str
) -> dict[str, Any]:
    response = await client.post(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
    )
    assert response.status_code == 202, response.text
    data: dict[str, Any] = response.json()
    return data


async def history(
    client: httpx.AsyncClient, tenant: SampleTenant, chat: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/web/v1/{tenant.slug}/conversations/{chat['conversation']['id']}/messages",
        headers={"Authorization": f"Bearer {chat['visitor_token']}"},
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def grounded_prices(reply: dict[str, Any]) -> None:
    """Every amount in the reply (text and cards) is one the pack states."""
    texts = [reply["text"], *(card["price_text"] for card in reply["payload"]["cards"])]
    for text in texts:
        violations = [v for v in check(text, PACK) if v.kind in ("amount", "percentage")]
        assert not violations, (text, violations)
        for amount in extract_amounts(text):
            assert amount.value > 0


def check_turn(turn: Turn, reply: dict[str, Any] | None, inbound: dict[str, Any]) -> None:
    where = f"{turn.text!r}"
    if turn.agent == "silent":
        assert reply is None, f"{where}: the bot answered {reply and reply['text']!r}"
        return
    assert reply is not None, f"{where}: no reply"
    decision = reply["payload"]["decision"]
    context = f"{where}: {decision}"
    if turn.agent is not None:
        assert decision["agent"] == turn.agent, context
    if turn.intents is not None:
        assert decision["intent"] in turn.intents, context
        assert inbound["payload"]["intent"]["label"] == decision["intent"], context
    actions = [action["kind"] for action in reply["payload"]["actions"]]
    for action in turn.actions:
        assert action in actions, f"{context}: actions {actions}"
    for action in turn.no_actions:
        assert action not in actions, f"{context}: actions {actions}"
    score = decision["score"]
    if turn.score == "up":
        assert score["after"] > score["before"], context
    elif turn.score == "down":
        assert score["after"] < score["before"], context
    elif turn.score == "same":
        assert score["after"] == score["before"], context
    if turn.stage is not None:
        assert score["stage"] == turn.stage, context
    if turn.language is not None:
        assert reply["payload"]["language"] == turn.language, context
    text = reply["text"].casefold()
    for fragment in turn.says:
        assert fragment.casefold() in text, f"{where}: {reply['text']!r} lacks {fragment!r}"
    for fragment in turn.never_says:
        assert fragment.casefold() not in text, f"{where}: {reply['text']!r} has {fragment!r}"
    grounded_prices(reply)


async def run(
    rt: Runtime, client: httpx.AsyncClient, script: Script, tenant: SampleTenant | None = None
) -> Outcome:
    """Play ``script`` through the web chat, checking every turn; returns what happened."""
    tenant = tenant or await tenant_for(rt, script.settings)
    chat = await start_chat(client, tenant)
    outcome = Outcome(chat=chat)
    for turn in script.turns:
        accepted = await send(client, tenant, chat, turn.text)
        await decided(rt, tenant, accepted["id"])
        messages = await history(client, tenant, chat)
        inbound = next(m for m in messages if m["id"] == accepted["id"])
        later = [m for m in messages if m["seq"] > accepted["seq"] and m["direction"] == "out"]
        reply = later[0] if later else None
        if reply is None and turn.agent != "silent":
            reply = await wait_for_reply(client, tenant, chat, after=accepted["seq"], within=2)
        check_turn(turn, reply, inbound)
        outcome.inbound.append(inbound)
        outcome.replies.append(reply)
    return outcome


def conversation_id(outcome: Outcome) -> uuid.UUID:
    return uuid.UUID(outcome.chat["conversation"]["id"])
