"""A Messenger page's or an Instagram account's connection: sealed credentials and options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PageCredentials(BaseModel):
    """The app secret that signs Meta's webhooks, the verify token of the subscription
    handshake, and the Page (or Instagram) access token that sends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    app_secret: str = Field(min_length=8, max_length=256)
    verify_token: str = Field(min_length=8, max_length=256)
    access_token: str = Field(min_length=8, max_length=2048)


class MessengerOptions(BaseModel):
    """``human_agent_tag``: a person's answer may still go out up to 7 days after the
    customer's last message, tagged ``HUMAN_AGENT`` (the page must have that permission)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    human_agent_tag: bool = False


class InstagramOptions(MessengerOptions):
    """``page_id``: the Facebook Page linked to the account, when the access token is that
    Page's (messages then go through ``/{page_id}/messages``; else ``/me/messages``)."""

    page_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$")
