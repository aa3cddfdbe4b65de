"""Carrying a conversation to another channel with a one-time code.

The web chat (the sales agent, or the visitor through the SDK) asks to continue on WhatsApp:
a code is issued, valid once and for a short time, and a ``wa.me`` link opens WhatsApp with a
message that carries it. When that message arrives on the tenant's WhatsApp number, the sender's
WhatsApp identity joins the web contact and the same conversation — history, lead, score —
goes on there. Codes live inside one tenant: another tenant's code is simply not found.
Nothing here is WhatsApp's own: any channel whose messages carry text can redeem a code.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.base import ChannelNotConfigured
from frontdesk.channels.inbound import InboundMessage
from frontdesk.channels.models import TransferCode
from frontdesk.conversations.events import ConversationEvents
from frontdesk.conversations.models import ChannelIdentity, Conversation
from frontdesk.conversations.repository import ConversationRepository, IdentityRepository
from frontdesk.errors import Conflict
from frontdesk.store.base import utcnow
from frontdesk.store.db import on_commit
from frontdesk.store.repository import TenantRepository
from frontdesk.tenancy.context import TenantContext

TTL: Final = timedelta(minutes=30)
ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH: Final = 8
_CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{4})[-‐–—]([A-HJ-NP-Z2-9]{4})\b")
TRANSFERABLE: Final = frozenset({"whatsapp"})
GREETING: Final = {
    "es": "Hola, quiero continuar mi conversación por WhatsApp. Código: {code}",
    "en": "Hi, I'd like to continue my conversation on WhatsApp. Code: {code}",
}


class TransferCodes(TenantRepository[TransferCode]):
    model = TransferCode


class NotTransferable(Conflict):
    title = "Conversation cannot be transferred"
    type_slug = "not-transferable"


@dataclass(frozen=True, slots=True)
class Transfer:
    code: str
    link: str
    channel: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redeemed:
    conversation: Conversation
    previous_channel: str


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


async def issue(
    session: AsyncSession,
    tenant: TenantContext,
    conversation: Conversation,
    *,
    channel: str = "whatsapp",
    language: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """A one-time code and link that move ``conversation`` to ``channel``."""
    if channel not in TRANSFERABLE:
        raise NotTransferable(f"conversations move to {', '.join(sorted(TRANSFERABLE))} only")
    if conversation.channel == channel:
        raise NotTransferable(f"the conversation is already on {channel}")
    if conversation.status == "closed":
        raise NotTransferable("the conversation is closed")
    connection = tenant.channel(channel)
    number = connection.options.get("phone_number") if connection else None
    if not number:
        raise ChannelNotConfigured(f"{tenant.slug} has no {channel} number to continue on")
    code = _new_code()
    expires_at = (now or utcnow()) + TTL
    TransferCodes(session, tenant.id).add(
        TransferCode(
            conversation_id=conversation.id,
            channel=channel,
            code_hash=_hash(code),
            expires_at=expires_at,
        )
    )
    await session.flush()
    language = language or conversation.language or tenant.settings.default_language
    text = GREETING.get(language, GREETING["en"]).format(code=code)
    return Transfer(
        code=code,
        link=f"https://wa.me/{number}?text={quote(text)}",
        channel=channel,
        expires_at=expires_at,
    )


def find_codes(text: str) -> list[str]:
    """The transfer codes a message may carry (``XXXX-XXXX``, any case or dash), at most 3."""
    matches = _CODE.finditer(text[:500].upper())
    return [f"{match.group(1)}-{match.group(2)}" for match in matches][:3]


async def redeem(
    session: AsyncSession,
    tenant: TenantContext,
    inbound: InboundMessage,
    *,
    events: ConversationEvents,
    now: datetime | None = None,
) -> Redeemed | None:
    """Link the sender to the conversation a valid code names; None when the message carries
    no code, or one that is unknown here, used, or expired."""
    candidates = find_codes(inbound.text)
    if not candidates:
        return None
    codes = TransferCodes(session, tenant.id)
    row = (
        await session.execute(
            codes.select()
            .where(
                TransferCode.code_hash.in_([_hash(code) for code in candidates]),
                TransferCode.channel == inbound.channel,
            )
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    now = now or utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    conversation = await ConversationRepository(session, tenant.id).get(row.conversation_id)
    if conversation is None or conversation.status == "closed":
        return None
    row.used_at = now
    identities = IdentityRepository(session, tenant.id)
    identity = await identities.find(inbound.channel, inbound.sender_id)
    if identity is None:
        identities.add(
            ChannelIdentity(
                contact_id=conversation.contact_id,
                channel=inbound.channel,
                external_id=inbound.sender_id,
                verified=True,
            )
        )
    else:
        identity.contact_id = conversation.contact_id
    previous = conversation.channel
    conversation.channel = inbound.channel
    await session.flush()
    tenant_id, conversation_id = tenant.id, conversation.id
    data = {"channel": inbound.channel, "from": previous}

    async def announce() -> None:
        await events.signal(tenant_id, conversation_id, "transferred", data)

    on_commit(session, announce)
    return Redeemed(conversation=conversation, previous_channel=previous)
