"""Browser routes for the web chat (SDK and widget); the tenant is named in the path."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent

from frontdesk.channels import transfer
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import (
    MAX_SEQ,
    ConversationOut,
    History,
    MessageAccepted,
    MessageCreate,
    MessageOut,
    WebSession,
    WebSessionCreate,
    WebUser,
)
from frontdesk.conversations.service import VerifiedUser
from frontdesk.errors import Conflict, Unauthorized
from frontdesk.gateway.deps import MaybeVisitor, PathTenant, RuntimeDep, Session, Visitor, WebClient
from frontdesk.realtime.hub import Event
from frontdesk.runtime import Runtime
from frontdesk.security.identity import verify_identity
from frontdesk.security.secrets import active_secrets
from frontdesk.security.tokens import VISITOR
from frontdesk.tenancy.context import TenantContext

router = APIRouter(prefix="/web/v1/{tenant}", tags=["web chat"])
BACKLOG_PAGE = 200


class ConversationMoved(Conflict):
    title = "Conversation moved to another channel"
    type_slug = "conversation-moved"


class IdentityRequired(Unauthorized):
    title = "Identity verification required"
    type_slug = "identity-required"


@router.post("/conversations", response_model=WebSession)
async def start_conversation(
    rt: RuntimeDep,
    session: Session,
    tenant: WebClient,
    visitor: MaybeVisitor,
    body: WebSessionCreate | None = None,
) -> WebSession:
    """Start a web chat, or resume the visitor's open one when a visitor token is sent.

    With ``user`` (the site's user id and the proof its server computed) the visitor is that
    user on every device; a tenant that requires it refuses visitors without a valid proof.
    """
    user = await _verified_user(rt, session, tenant, body.user if body else None)
    if user is None and visitor is not None and visitor.user_id is not None:
        user = VerifiedUser(id=visitor.user_id)
    if user is None and tenant.settings.identity_verification == "required":
        raise IdentityRequired("this site requires a verified user to chat")
    started = await conversations.start_web_conversation(
        session,
        tenant,
        contact_id=visitor.contact_id if visitor else None,
        locale=body.locale if body else None,
        user=user,
    )
    issued = rt.tokens.issue(
        VISITOR,
        tenant_id=tenant.id,
        subject=str(started.contact.id),
        user_id=user.id if user else None,
    )
    return WebSession(
        visitor_token=issued.token,
        contact_id=started.contact.id,
        conversation=ConversationOut.model_validate(started.conversation),
        resumed=started.resumed,
        verified=user is not None,
    )


async def _verified_user(
    rt: Runtime, session: AsyncSession, tenant: TenantContext, user: WebUser | None
) -> VerifiedUser | None:
    if user is None:
        return None
    secrets = await active_secrets(session, rt.box, tenant.id, purpose="identity")
    if not secrets:
        raise IdentityRequired("identity verification is not set up for this tenant")
    verified = verify_identity(secrets, user.id, user.proof)
    claims = verified.claims
    return VerifiedUser(
        id=verified.user_id,
        name=user.name or _text(claims.get("name")),
        email=user.email or _text(claims.get("email")),
    )


def _text(value: object) -> str | None:
    return str(value)[:200] if isinstance(value, str) and value else None


@router.post("/conversations/{conversation_id}/messages", status_code=202)
async def send_message(
    rt: RuntimeDep,
    session: Session,
    tenant: PathTenant,
    visitor: Visitor,
    conversation_id: uuid.UUID,
    body: MessageCreate,
) -> MessageAccepted:
    """Send a visitor message; the reply arrives on the event stream."""
    conversation = await conversations.get_conversation(
        session, tenant, conversation_id, contact_id=visitor.contact_id
    )
    if conversation.channel != "webchat":
        raise ConversationMoved(f"this conversation continues on {conversation.channel}")
    received = await conversations.receive(
        session,
        tenant,
        conversation,
        text=body.text,
        external_id=body.client_id,
        events=rt.hub,
        payload={"payload": body.payload} if body.payload else None,
    )
    rt.metrics.messages.labels(conversation.channel, "in").inc(0 if received.duplicate else 1)
    message = received.message
    return MessageAccepted(
        id=message.id,
        conversation_id=conversation.id,
        seq=message.seq,
        status=message.status,
        duplicate=received.duplicate,
    )


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["whatsapp"] = "whatsapp"


class TransferOut(BaseModel):
    code: str
    link: str
    channel: str
    expires_at: datetime


@router.post("/conversations/{conversation_id}/transfer")
async def transfer_conversation(
    session: Session,
    tenant: PathTenant,
    visitor: Visitor,
    conversation_id: uuid.UUID,
    body: TransferRequest | None = None,
) -> TransferOut:
    """Continue this conversation on WhatsApp: a one-time code and the ``wa.me`` link that
    sends it; the web chat's event stream says ``transferred`` once the message arrives."""
    conversation = await conversations.get_conversation(
        session, tenant, conversation_id, contact_id=visitor.contact_id
    )
    issued = await transfer.issue(
        session, tenant, conversation, channel=body.channel if body else "whatsapp"
    )
    return TransferOut(
        code=issued.code, link=issued.link, channel=issued.channel, expires_at=issued.expires_at
    )


@router.get("/conversations/{conversation_id}/messages")
async def read_history(
    session: Session,
    tenant: PathTenant,
    visitor: Visitor,
    conversation_id: uuid.UUID,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> History:
    """The conversation's messages after ``after`` (a message ``seq``), oldest first."""
    conversation = await conversations.get_conversation(
        session, tenant, conversation_id, contact_id=visitor.contact_id
    )
    rows = await conversations.history(session, tenant, conversation, after_seq=after, limit=limit)
    return History(
        conversation_id=conversation.id,
        messages=[MessageOut.model_validate(row) for row in rows],
        last_seq=conversation.last_seq,
    )


@router.get("/conversations/{conversation_id}/events", response_class=EventSourceResponse)
async def stream_events(
    rt: RuntimeDep,
    session: Session,
    tenant: PathTenant,
    visitor: Visitor,
    conversation_id: uuid.UUID,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_SEQ)] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="for clients that cannot set headers")
    ] = None,
) -> EventSourceResponse:
    """Server-sent events: messages (id = ``seq``, resumable with Last-Event-ID), typing."""
    conversation = await conversations.get_conversation(
        session, tenant, conversation_id, contact_id=visitor.contact_id
    )
    start = last_event_id if last_event_id is not None else (after or 0)
    return EventSourceResponse(
        _events(rt, tenant, conversation.id, start),
        ping=int(rt.settings.sse_ping_seconds),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    rt: Runtime, tenant: TenantContext, conversation_id: uuid.UUID, last_seq: int
) -> AsyncIterator[ServerSentEvent]:
    """Subscribe first, then replay the store past ``last_seq``: nothing falls in between."""
    async with rt.hub.subscribe(tenant.id, conversation_id) as queue:
        rt.metrics.stream_subscribers.inc()
        try:
            async for event in _backlog(rt, tenant, conversation_id, last_seq):
                last_seq = event.seq or last_seq
                yield _sse(event)
            while True:
                event = await queue.get()
                if event.event == "resync":
                    async for missed in _backlog(rt, tenant, conversation_id, last_seq):
                        last_seq = missed.seq or last_seq
                        yield _sse(missed)
                    continue
                if event.seq is not None:
                    if event.seq <= last_seq:
                        continue
                    if event.seq > last_seq + 1:
                        # A gap: read what came between from the store, in order.
                        async for missed in _backlog(rt, tenant, conversation_id, last_seq):
                            last_seq = missed.seq or last_seq
                            yield _sse(missed)
                        continue
                    last_seq = event.seq
                yield _sse(event)
        finally:
            rt.metrics.stream_subscribers.dec()


async def _backlog(
    rt: Runtime, tenant: TenantContext, conversation_id: uuid.UUID, after: int
) -> AsyncIterator[Event]:
    while True:
        async with rt.db.session() as session:
            conversation = await conversations.get_conversation(session, tenant, conversation_id)
            rows = await conversations.history(
                session, tenant, conversation, after_seq=after, limit=BACKLOG_PAGE
            )
            events = [
                Event("message", MessageOut.model_validate(row).model_dump_json(), row.seq)
                for row in rows
            ]
        for event in events:
            yield event
        if len(events) < BACKLOG_PAGE:
            return
        after = events[-1].seq or after
        await asyncio.sleep(0)


def _sse(event: Event) -> ServerSentEvent:
    data: Any = event.data
    return ServerSentEvent(data=data, event=event.event, id=str(event.seq) if event.seq else None)
