"""Human handoff from the command line: ``frontdesk reply`` and ``frontdesk conversation
take|release``, written straight to the database as the API would.

A WhatsApp answer is queued as a delivery job, which the server's job runner sends. With Redis
(``FRONTDESK_REDIS_URL``) the web chat's open streams hear the answer at once; on the embedded
database they read it from the store with the conversation's next event or on reconnecting.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.api import ApiChannelAdapter
from frontdesk.channels.base import ChannelNotConfigured
from frontdesk.channels.webchat import WebChatAdapter
from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
from frontdesk.cli.common import fail, out, print_json, run_db, settings
from frontdesk.conversations import handoff
from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import Conversation
from frontdesk.conversations.schemas import MessageOut
from frontdesk.realtime.hub import Hub
from frontdesk.realtime.redis_hub import RedisHub
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.store import TenantContextStore

T = TypeVar("T")
ACTOR = "cli"
DEFAULT_AGENT = "operator"
PUSHES = {
    adapter.kind: adapter.pushes for adapter in (WebChatAdapter, ApiChannelAdapter, WhatsAppAdapter)
}
"""Which channels need a delivery job (the rest are read from the store by their clients)."""

TenantArg = Annotated[str, typer.Argument(help="The tenant's slug.")]
ConversationArg = Annotated[str, typer.Argument(help="The conversation's id.")]
AgentOpt = Annotated[
    str, typer.Option("--agent", help="Who answers: a name or your own id for the person.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _conversation_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"'{value}' is not a conversation id")


@asynccontextmanager
async def _events(config: Settings) -> AsyncIterator[ConversationEvents]:
    """Where the announcements go: Redis reaches every server's streams; without it, no stream
    lives in this process (the store is what they read)."""
    if not config.redis_url:
        yield Hub()
        return
    redis = Redis.from_url(config.redis_url)
    try:
        yield RedisHub(redis)
    finally:
        await redis.aclose()


@dataclass(frozen=True, slots=True)
class At:
    """One conversation of one tenant, inside an open unit of work."""

    session: AsyncSession
    tenant: TenantContext
    conversation: Conversation
    events: ConversationEvents


def _on_conversation(slug: str, conversation_id: str, act: Callable[[At], Awaitable[T]]) -> T:
    """Run ``act`` on the tenant's conversation in one unit of work (committed, then announced)."""
    parsed = _conversation_id(conversation_id)
    config = settings()

    async def work(db: Database) -> T:
        async with _events(config) as events, db.session() as session:
            tenant = await TenantContextStore(db).by_slug(slug, session=session)
            conversation = await conversations.get_conversation(session, tenant, parsed)
            return await act(At(session, tenant, conversation, events))

    return run_db(work, settings_=config)


def _summary(result: handoff.Handoff) -> dict[str, Any]:
    return {
        "conversation_id": str(result.conversation.id),
        "status": result.conversation.status,
        "agent": result.agent,
        "changed": result.changed,
    }


def _report(summary: dict[str, Any], json_: bool, changed: str, unchanged: str) -> None:
    if json_:
        print_json(summary)
        return
    outcome = changed if summary["changed"] else unchanged
    out.print(f"conversation {summary['conversation_id']} {outcome}", markup=False, soft_wrap=True)


def conversation_take(
    tenant: TenantArg,
    conversation_id: ConversationArg,
    agent: AgentOpt = DEFAULT_AGENT,
    json_: JsonOpt = False,
) -> None:
    """Take a conversation from the assistant: it stays silent until released."""

    async def act(at: At) -> dict[str, Any]:
        return _summary(
            await handoff.take(
                at.session, at.tenant, at.conversation, agent=agent, actor=ACTOR, events=at.events
            )
        )

    summary = _on_conversation(tenant, conversation_id, act)
    _report(summary, json_, f"taken by {summary['agent']}", f"is already {summary['agent']}'s")


def conversation_release(
    tenant: TenantArg, conversation_id: ConversationArg, json_: JsonOpt = False
) -> None:
    """Give a conversation back to the assistant, which answers the customer's next message."""

    async def act(at: At) -> dict[str, Any]:
        return _summary(
            await handoff.release(
                at.session, at.tenant, at.conversation, actor=ACTOR, events=at.events
            )
        )

    summary = _on_conversation(tenant, conversation_id, act)
    _report(summary, json_, "released to the assistant", "was not taken: nothing to release")


def reply(
    tenant: TenantArg,
    conversation_id: ConversationArg,
    text: Annotated[str, typer.Argument(help="The answer, as the customer will read it.")],
    agent: AgentOpt = DEFAULT_AGENT,
    client_id: Annotated[
        str | None,
        typer.Option(help="An idempotency key: running the command again sends nothing more."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Answer a customer on their conversation's channel (taking the conversation if needed)."""

    async def act(at: At) -> dict[str, Any]:
        deliver = PUSHES.get(at.conversation.channel)
        if deliver is None:
            raise ChannelNotConfigured(f"cannot answer on the {at.conversation.channel} channel")
        result = await handoff.human_reply(
            at.session,
            at.tenant,
            at.conversation,
            text,
            agent=agent,
            actor=ACTOR,
            events=at.events,
            deliver=deliver,
            client_id=client_id,
        )
        message = MessageOut.model_validate(result.message).model_dump(mode="json")
        return {**message, "duplicate": result.duplicate, "taken": result.taken}

    sent = _on_conversation(tenant, conversation_id, act)
    if json_:
        print_json(sent)
        return
    note = " (already sent)" if sent["duplicate"] else ""
    taken = f"; conversation taken by {sent['payload']['agent']}" if sent["taken"] else ""
    out.print(
        f"message {sent['id']} #{sent['seq']} on {sent['channel']}: {sent['status']}{note}{taken}",
        markup=False,
        soft_wrap=True,
    )
