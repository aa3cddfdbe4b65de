"""The tenant's people on ``/v1``: take a conversation from the assistant, answer the customer
on their channel, release it (secret key or access token with ``conversations:write``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.conversations import handoff
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ConversationOut, MessageOut
from frontdesk.engine.reply import Media
from frontdesk.fields import Text
from frontdesk.gateway.deps import Caller, RuntimeDep, Session, requires

router = APIRouter(prefix="/v1", tags=["server API"])
WriteConversations = Annotated[Caller, Depends(requires("conversations:write"))]

Agent = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=handoff.MAX_AGENT,
        description="who answers: a name or the tenant's own id for the person",
    ),
]


class HandoffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Agent


class MediaIn(BaseModel):
    """A file sent with the answer, by a public https URL (WhatsApp fetches it from there)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["image", "document", "video", "audio"]
    url: Text = Field(max_length=2048, pattern=r"^https://")
    caption: Text = Field(default="", max_length=1024)
    filename: Text | None = Field(default=None, max_length=240)

    def part(self) -> Media:
        return Media(kind=self.kind, url=self.url, caption=self.caption, filename=self.filename)


class HumanReplyCreate(BaseModel):
    """A person's answer; ``client_id`` makes a retried call send it only once."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(min_length=1, max_length=handoff.MAX_TEXT)
    agent: Agent
    client_id: Text | None = Field(
        default=None, min_length=1, max_length=handoff.MAX_CLIENT_ID, pattern=r"^[\w.:-]+$"
    )
    media: list[MediaIn] = Field(default_factory=list, max_length=5)


class HandoffOut(ConversationOut):
    agent: str | None
    """Who has the conversation (null: the assistant answers)."""
    changed: bool


class HumanReplyOut(MessageOut):
    duplicate: bool
    taken: bool


def _handoff_out(result: handoff.Handoff) -> HandoffOut:
    return HandoffOut(
        **ConversationOut.model_validate(result.conversation).model_dump(),
        agent=result.agent,
        changed=result.changed,
    )


@router.post("/conversations/{conversation_id}/handoff")
async def take_conversation(
    rt: RuntimeDep,
    session: Session,
    caller: WriteConversations,
    conversation_id: uuid.UUID,
    body: HandoffCreate,
) -> HandoffOut:
    """A person takes the conversation: the assistant stays silent until it is released."""
    conversation = await conversations.get_conversation(session, caller.tenant, conversation_id)
    result = await handoff.take(
        session, caller.tenant, conversation, agent=body.agent, actor=caller.subject, events=rt.hub
    )
    return _handoff_out(result)


@router.post("/conversations/{conversation_id}/messages", status_code=201)
async def reply_as_agent(
    rt: RuntimeDep,
    session: Session,
    caller: WriteConversations,
    conversation_id: uuid.UUID,
    body: HumanReplyCreate,
) -> HumanReplyOut:
    """A person's answer, sent on the customer's channel; it takes the conversation first when
    the assistant has it."""
    conversation = await conversations.get_conversation(session, caller.tenant, conversation_id)
    result = await handoff.human_reply(
        session,
        caller.tenant,
        conversation,
        body.text,
        agent=body.agent,
        actor=caller.subject,
        events=rt.hub,
        deliver=rt.channels.needs_delivery(conversation.channel),
        client_id=body.client_id,
        media=[item.part() for item in body.media],
    )
    if not result.duplicate:
        rt.metrics.messages.labels(conversation.channel, "out").inc()
    return HumanReplyOut(
        **MessageOut.model_validate(result.message).model_dump(),
        duplicate=result.duplicate,
        taken=result.taken,
    )


@router.post("/conversations/{conversation_id}/release")
async def release_conversation(
    rt: RuntimeDep, session: Session, caller: WriteConversations, conversation_id: uuid.UUID
) -> HandoffOut:
    """Give the conversation back to the assistant, which answers the customer's next message."""
    conversation = await conversations.get_conversation(session, caller.tenant, conversation_id)
    result = await handoff.release(
        session, caller.tenant, conversation, actor=caller.subject, events=rt.hub
    )
    return _handoff_out(result)
