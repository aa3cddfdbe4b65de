"""Shapes of conversations and messages on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.fields import Text

MAX_SEQ = 2**31 - 1
"""The largest message number (a 32-bit column): larger positions are refused, not looked up."""


class MessageCreate(BaseModel):
    """A visitor's message; ``client_id`` makes a retried send land only once; ``payload`` is a
    tapped quick reply's payload (``service:<id>``, ``cta:<id>``), read as that choice."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(min_length=1, max_length=4000)
    client_id: Text | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.:-]+$")
    payload: str | None = Field(
        default=None,
        min_length=3,
        max_length=200,
        pattern=r"^[a-z]{1,16}:[a-z0-9]+(?:-[a-z0-9]+)*$",
        description="the payload of the quick reply the visitor tapped",
    )


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    direction: str
    channel: str
    sender: str
    text: str
    payload: dict[str, Any]
    status: str
    created_at: datetime


class MessageAccepted(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    status: str
    duplicate: bool = False


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contact_id: uuid.UUID
    channel: str
    status: str
    language: str | None
    last_seq: int
    created_at: datetime
    updated_at: datetime


class WebSession(BaseModel):
    """What a browser keeps: its visitor token and the conversation it is in."""

    visitor_token: str
    contact_id: uuid.UUID
    conversation: ConversationOut
    resumed: bool
    verified: bool = False


class WebUser(BaseModel):
    """A user the tenant's site knows, proven by ``proof`` (HMAC of the id or a signed JWT)."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(min_length=1, max_length=255)
    proof: Text = Field(min_length=1, max_length=4096)
    name: Text | None = Field(default=None, max_length=200)
    email: Text | None = Field(default=None, max_length=320)


class WebSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: str | None = Field(
        default=None, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
    )
    user: WebUser | None = None


class History(BaseModel):
    conversation_id: uuid.UUID
    messages: list[MessageOut]
    last_seq: int


class ApiContact(BaseModel):
    """The customer, as the tenant's system knows them."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(min_length=1, max_length=255, description="the tenant's own id for them")
    name: Text | None = Field(default=None, max_length=200)
    email: Text | None = Field(default=None, max_length=320)
    phone: Text | None = Field(default=None, max_length=32)


class ApiMessageCreate(BaseModel):
    """A customer's message relayed by the tenant's server (the API channel)."""

    model_config = ConfigDict(extra="forbid")

    contact: ApiContact
    text: Text = Field(min_length=1, max_length=4000)
    message_id: Text | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="idempotency key (default: webhook-id)",
    )
