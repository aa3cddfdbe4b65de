"""Human handoff: a person of the tenant takes a conversation, answers on its channel and
releases it to the assistant again.

While a conversation's ``status`` is ``handoff`` the engine stays silent (``engine.decide``
returns early); the engine sets it itself when it decides a person should answer, and
``take`` sets it when a person steps in. Who has the conversation is written in two places,
both append-only: the audit log (``conversation.taken``, ``conversation.released``) and a
``system`` message in the conversation whose payload says ``{"kind": "handoff", "state":
"taken" | "released", "agent": …}`` (the web chat shows it; a pushing channel such as WhatsApp
never sends it). A person's answer is an outbound message with ``sender="agent"``, stored and
delivered exactly as the assistant's replies are (``service.append_outbound``). Answering a
conversation that is not in handoff takes it first: a person's answer always silences the
assistant.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import service
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import MessageRepository
from frontdesk.conversations.schemas import ConversationOut
from frontdesk.conversations.service import ConversationClosed
from frontdesk.delivery import webhooks
from frontdesk.engine.reply import Media, Reply
from frontdesk.errors import Conflict, Invalid
from frontdesk.security.audit import record
from frontdesk.store.db import on_commit
from frontdesk.tenancy.context import TenantContext

HANDOFF: Final = "handoff"
OPEN: Final = "open"
AGENT: Final = "agent"
"""``sender`` of a person's answer (the assistant's replies are ``assistant``)."""
SYSTEM: Final = "system"
"""``sender`` of the notes that record who took or released a conversation."""
MAX_AGENT = 100
MAX_TEXT = 4000
MAX_CLIENT_ID = 64
CLIENT_ID_PREFIX = "agent/"
"""A person's ``client_id`` is stored as ``agent/<client_id>``: no customer's key has a ``/``
(web chat refuses it in a ``client_id``, provider ids have none), so theirs never collide."""

State = Literal["taken", "released"]

_NOTES: Final[dict[State, dict[str, str]]] = {
    "taken": {
        "es": "Un asesor se unió a la conversación.",
        "en": "An advisor joined the conversation.",
    },
    "released": {
        "es": "El asistente virtual retoma la conversación.",
        "en": "The virtual assistant is back in the conversation.",
    },
}


class InvalidAgent(Invalid):
    title = "Invalid agent"
    type_slug = "invalid-agent"


class InvalidReply(Invalid):
    title = "Invalid reply"
    type_slug = "invalid-reply"


class ClientIdReused(Conflict):
    title = "client_id already used"
    type_slug = "client-id-reused"


@dataclass(frozen=True, slots=True)
class Handoff:
    """Where a conversation stands: its row, and the person who has it (None: the assistant,
    or a handoff the engine decided that nobody has taken yet)."""

    conversation: Conversation
    agent: str | None
    changed: bool
    """False when the call found it already so (taking twice, releasing an open one)."""


@dataclass(frozen=True, slots=True)
class HumanReply:
    message: Message
    duplicate: bool
    """True when ``client_id`` named an answer already stored: that one is returned, once sent."""
    taken: bool
    """True when this answer took the conversation (it was not in handoff to a person)."""


class HandoffNotes(MessageRepository):
    async def latest(self, conversation_id: uuid.UUID) -> Message | None:
        """The conversation's latest handoff note (``system`` message), if any."""
        result = await self.session.execute(
            self.select()
            .where(Message.conversation_id == conversation_id, Message.sender == SYSTEM)
            .order_by(Message.seq.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()


def agent_name(value: str) -> str:
    """``value`` trimmed, 1 to 100 printable characters (a name or an id), or ``InvalidAgent``."""
    name = value.strip()
    if not name or len(name) > MAX_AGENT:
        raise InvalidAgent(f"the agent must be 1 to {MAX_AGENT} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidAgent("the agent must not contain control characters")
    return name


def reply_text(value: str) -> str:
    """``value`` trimmed, 1 to 4000 characters without NUL, or ``InvalidReply``."""
    text = value.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidReply(f"the text must be 1 to {MAX_TEXT} characters")
    if "\x00" in text:
        raise InvalidReply("the text must not contain NUL characters")
    return text


async def assignee(
    session: AsyncSession, tenant: TenantContext, conversation: Conversation
) -> str | None:
    """The person who has the conversation, None when nobody does."""
    if conversation.status != HANDOFF:
        return None
    note = await HandoffNotes(session, tenant.id).latest(conversation.id)
    if note is None or note.payload.get("state") != "taken":
        return None
    agent = note.payload.get(AGENT)
    return agent if isinstance(agent, str) else None


async def take(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    *,
    agent: str,
    actor: str,
    events: ConversationEvents,
) -> Handoff:
    """``agent`` takes the conversation: the assistant stops answering until it is released.

    Taking a conversation already taken by the same agent changes nothing; another agent takes
    it over. Closed conversations are refused (``ConversationClosed``, 409).
    """
    agent = agent_name(agent)
    await _lock(session, conversation)
    _refuse_closed(conversation)
    if await assignee(session, tenant, conversation) == agent:
        return Handoff(conversation=conversation, agent=agent, changed=False)
    conversation.status = HANDOFF
    await _note(session, tenant, conversation, "taken", agent=agent, actor=actor, events=events)
    return Handoff(conversation=conversation, agent=agent, changed=True)


async def release(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    *,
    actor: str,
    events: ConversationEvents,
) -> Handoff:
    """Give the conversation back to the assistant, which answers the customer's next message
    (not the ones that came while a person had it). Releasing an open one changes nothing."""
    await _lock(session, conversation)
    _refuse_closed(conversation)
    if conversation.status != HANDOFF:
        return Handoff(conversation=conversation, agent=None, changed=False)
    agent = await assignee(session, tenant, conversation)
    conversation.status = OPEN
    await _note(session, tenant, conversation, "released", agent=agent, actor=actor, events=events)
    return Handoff(conversation=conversation, agent=None, changed=True)


async def human_reply(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    text: str,
    *,
    agent: str,
    actor: str,
    events: ConversationEvents,
    deliver: bool,
    client_id: str | None = None,
    media: Sequence[Media] = (),
) -> HumanReply:
    """Store a person's answer on the conversation's channel, with its delivery job where the
    channel pushes (``deliver``), announced to the web chat's stream otherwise.

    A conversation not in handoff is taken by ``agent`` first (a person's answer always silences
    the assistant); one in handoff keeps its assignee. ``client_id`` makes a retried call return
    the answer already stored instead of sending a second one.
    """
    agent = agent_name(agent)
    text = reply_text(text)
    key = _client_key(client_id)
    await _lock(session, conversation)
    if key is not None:
        existing = await service.find_message(
            session, tenant, channel=conversation.channel, external_id=key
        )
        if existing is not None:
            return _duplicate(existing, conversation)
    _refuse_closed(conversation)
    taken = False
    if conversation.status != HANDOFF or await assignee(session, tenant, conversation) is None:
        taken = (
            await take(session, tenant, conversation, agent=agent, actor=actor, events=events)
        ).changed
    reply = Reply(text=text, language=_language(tenant, conversation), media=tuple(media))
    payload = {**reply.to_dict(), AGENT: agent}
    try:
        # A concurrent retry with the same client_id loses the race on the unique key.
        async with session.begin_nested():
            message = await service.append_outbound(
                session,
                tenant,
                conversation,
                sender=AGENT,
                text=text,
                payload=payload,
                external_id=key,
                events=events,
                deliver=deliver,
            )
    except IntegrityError:
        existing = (
            await service.find_message(
                session, tenant, channel=conversation.channel, external_id=key
            )
            if key is not None
            else None
        )
        if existing is None:
            raise
        return _duplicate(existing, conversation)
    record(
        session,
        tenant.id,
        actor=actor,
        action="conversation.replied",
        target=str(conversation.id),
        data={AGENT: agent, "message_id": str(message.id)},
    )
    return HumanReply(message=message, duplicate=False, taken=taken)


async def _lock(session: AsyncSession, conversation: Conversation) -> None:
    """Read the conversation again under its row lock (PostgreSQL; SQLite's writers are serial
    already): two people, or a retried request, act on it one after the other, each seeing
    what the other did."""
    await session.refresh(conversation, with_for_update=True)


def _refuse_closed(conversation: Conversation) -> None:
    if conversation.status == "closed":
        raise ConversationClosed("the conversation is closed")


def _client_key(client_id: str | None) -> str | None:
    if client_id is None:
        return None
    if not 0 < len(client_id) <= MAX_CLIENT_ID or not all(
        char.isalnum() or char in "_.:-" for char in client_id
    ):
        raise InvalidReply(
            f"client_id must be 1 to {MAX_CLIENT_ID} letters, digits or the characters _ . : -"
        )
    return CLIENT_ID_PREFIX + client_id


def _duplicate(existing: Message, conversation: Conversation) -> HumanReply:
    if existing.conversation_id != conversation.id or existing.sender != AGENT:
        raise ClientIdReused("this client_id was already used for another message")
    return HumanReply(message=existing, duplicate=True, taken=False)


def _language(tenant: TenantContext, conversation: Conversation) -> str:
    if tenant.pack is not None:
        return tenant.pack.resolve_language(conversation.language)
    return conversation.language or "es"


async def _note(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    state: State,
    *,
    agent: str | None,
    actor: str,
    events: ConversationEvents,
) -> None:
    """Record who took or released the conversation: a system message (in the history, never
    sent to a pushing channel), the audit log, ``conversation.handoff`` to the tenant's
    endpoints, and the ``handoff`` signal on the web chat's stream."""
    language = _language(tenant, conversation)
    note = await service.append_outbound(
        session,
        tenant,
        conversation,
        sender=SYSTEM,
        text=_NOTES[state].get(language, _NOTES[state]["es"]),
        payload={"kind": HANDOFF, "state": state, AGENT: agent, "language": language},
        external_id=None,
        events=events,
        deliver=False,
    )
    # The message number was reserved in SQL: read it (and the new updated_at) back.
    await session.refresh(conversation, ["last_seq", "updated_at"])
    record(
        session,
        tenant.id,
        actor=actor,
        action=f"conversation.{state}",
        target=str(conversation.id),
        data={AGENT: agent},
    )
    data: dict[str, Any] = {
        **ConversationOut.model_validate(conversation).model_dump(mode="json"),
        "state": state,
        AGENT: agent,
    }
    await webhooks.emit(
        session,
        tenant,
        webhooks.CONVERSATION_HANDOFF,
        data,
        key=f"{webhooks.CONVERSATION_HANDOFF}:{conversation.id}:{note.seq}",
    )
    tenant_id, conversation_id = tenant.id, conversation.id
    signal = {"state": state, AGENT: agent}

    async def announce() -> None:
        await events.signal(tenant_id, conversation_id, HANDOFF, signal)

    on_commit(session, announce)
