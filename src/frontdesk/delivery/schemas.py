"""Shapes of webhook endpoints on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.fields import Text

EventName = Text
MAX_OVERLAP_SECONDS = 30 * 86400


class WebhookCreate(BaseModel):
    """A new endpoint: its URL (https, public), the events it wants (``*``: all) and a note."""

    model_config = ConfigDict(extra="forbid")

    url: Text = Field(min_length=1, max_length=2048)
    events: list[Text] = Field(default_factory=lambda: ["*"], min_length=1, max_length=20)
    description: Text = Field(default="", max_length=200)


class WebhookUpdate(BaseModel):
    """What to change; the rest stays."""

    model_config = ConfigDict(extra="forbid")

    url: Text | None = Field(default=None, min_length=1, max_length=2048)
    events: list[Text] | None = Field(default=None, min_length=1, max_length=20)
    description: Text | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="the signing secret (whsec_…): shown this once")


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(default=86400, ge=0, le=MAX_OVERLAP_SECONDS)


class SecretRotated(BaseModel):
    id: uuid.UUID
    secret: str = Field(description="the new signing secret (whsec_…): shown this once")
    older_secrets_expire_at: datetime


class PingResult(BaseModel):
    """What the endpoint answered to a signed ``ping``."""

    delivered: bool
    status: int | None
    error: str | None
    webhook_id: str
