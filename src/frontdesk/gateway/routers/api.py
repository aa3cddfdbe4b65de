"""The tenant's server API (``/v1``): secret key or Tenant Access Token, scoped."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import MAX_SEQ, ConversationOut, MessageOut
from frontdesk.errors import NotFound
from frontdesk.gateway.deps import Caller, RuntimeDep, Session, requires

router = APIRouter(prefix="/v1", tags=["server API"])
ReadConversations = Annotated[Caller, Depends(requires("conversations:read"))]


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    next_cursor: str | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]


@router.get("/conversations")
async def list_conversations(
    session: Session,
    caller: ReadConversations,
    channel: Annotated[
        Literal["webchat", "whatsapp", "messenger", "instagram", "email", "api", "crm"] | None,
        Query(),
    ] = None,
    status: Annotated[Literal["open", "handoff", "closed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=100, pattern=r"^[0-9A-Za-z:._+-]+$")] = None,
) -> ConversationPage:
    """The tenant's conversations, most recently active first, filterable and paginated."""
    page = await conversations.page_conversations(
        session, caller.tenant, channel=channel, status=status, limit=limit, cursor=cursor
    )
    return ConversationPage(
        data=[ConversationOut.model_validate(row) for row in page.rows],
        next_cursor=page.next_cursor,
    )


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    session: Session,
    caller: ReadConversations,
    conversation_id: uuid.UUID,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> ConversationDetail:
    """One conversation with its messages (after ``after``, oldest first)."""
    conversation = await conversations.get_conversation(session, caller.tenant, conversation_id)
    rows = await conversations.history(
        session, caller.tenant, conversation, after_seq=after, limit=limit
    )
    return ConversationDetail(
        **ConversationOut.model_validate(conversation).model_dump(),
        messages=[MessageOut.model_validate(row) for row in rows],
    )


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/media",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def message_media(
    rt: RuntimeDep,
    session: Session,
    caller: ReadConversations,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> Response:
    """The media file a customer sent (an image, a voice note, a document), fetched from the
    provider when asked for: it is not kept."""
    tenant = caller.tenant
    message = await conversations.get_message(session, tenant, message_id)
    media_id = message.payload.get("media_id") if message.direction == "in" else None
    if message.conversation_id != conversation_id or not media_id:
        raise NotFound(f"message {message_id} has no media")
    adapter = rt.channels.get(message.channel)
    if not isinstance(adapter, WhatsAppAdapter):
        raise NotFound(f"message {message_id} has no media")
    _, token = adapter.credentials(tenant)
    content, mime = await adapter.graph.media(str(media_id), token)
    return Response(content, media_type=mime, headers={"Cache-Control": "private, no-store"})
