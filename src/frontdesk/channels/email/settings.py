"""What an email connection holds: its secrets (sealed at rest) and its settings.

The connection's account is the tenant's support address (``soporte@acme.co``). Mail goes out
through the tenant's SMTP server; it comes in either through a provider's inbound-parse webhook
(``sendgrid``, ``mailgun``, ``postmark``) or by polling a mailbox over IMAP (``imap``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Inbound = Literal["sendgrid", "mailgun", "postmark", "imap"]
Tls = Literal["starttls", "tls", "none"]
"""``starttls`` upgrades a plain connection, ``tls`` is TLS from the first byte (SMTPS on 465,
IMAPS on 993), ``none`` is for local testing only: passwords would cross the network in clear."""

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _host(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().rstrip(".")
    if not _HOST.match(value):
        raise ValueError("a host name (mail.example.com) or an address")
    return value


class EmailCredentials(BaseModel):
    """The secrets of an email connection: the SMTP login that sends; the IMAP login (inbound
    ``imap``); the secret in the webhook URL's basic auth (SendGrid, Postmark); Mailgun's HTTP
    webhook signing key (Mailgun)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    smtp_username: str | None = Field(default=None, max_length=256)
    smtp_password: str = Field(min_length=1, max_length=1024)
    imap_username: str | None = Field(default=None, max_length=256)
    imap_password: str | None = Field(default=None, min_length=1, max_length=1024)
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=256)
    mailgun_signing_key: str | None = Field(default=None, min_length=8, max_length=256)


class EmailOptions(BaseModel):
    """An email connection's settings (nothing secret)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str | None = Field(default=None, max_length=100)
    """The name the customer sees beside the address (``Acme Soporte``)."""
    reply_domain: str | None = Field(default=None, max_length=253)
    """Replies go to ``reply+<token>@reply_domain``, one address per conversation; without
    it they go to the connection's address and threads are found by Message-ID alone."""
    message_id_domain: str | None = Field(default=None, max_length=253)
    """The right-hand side of our Message-IDs (default: the reply domain, else the address's)."""
    inbound: Inbound = "imap"
    smtp_host: str = Field(max_length=253)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Tls = "starttls"
    imap_host: str | None = Field(default=None, max_length=253)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_tls: Tls = "tls"
    imap_mailbox: str = Field(default="INBOX", min_length=1, max_length=200)
    poll_seconds: int = Field(default=60, ge=1, le=3600)

    @model_validator(mode="after")
    def _plain_only_locally(self) -> EmailOptions:
        for tls, host in ((self.smtp_tls, self.smtp_host), (self.imap_tls, self.imap_host)):
            if tls == "none" and host is not None and host not in LOOPBACK:
                raise ValueError("tls none (passwords in clear) is for a local server only")
        return self

    @field_validator("display_name", "imap_mailbox")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("one line of printable characters")
        return value

    @field_validator("reply_domain", "message_id_domain", "smtp_host", "imap_host")
    @classmethod
    def _hosts(cls, value: str | None) -> str | None:
        return _host(value)
