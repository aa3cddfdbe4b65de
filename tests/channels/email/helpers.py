"""Connecting an email account to a test tenant, and reading what was stored."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from frontdesk.channels.connections import add_connection
from frontdesk.channels.email.models import EmailThread
from frontdesk.conversations.models import Message
from frontdesk.runtime import Runtime
from frontdesk.store.scope import system_scope
from tests.channels.test_whatsapp import eventually
from tests.factories import SampleTenant

__all__ = ["connect_email", "eventually", "messages_of", "thread_of"]

WEBHOOK_SECRET = "sendgrid-and-postmark-basic-auth-secret"
MAILGUN_KEY = "key-mailgun-signing-key-for-tests"
CREDENTIALS = {
    "smtp_username": "soporte",
    "smtp_password": "smtp-password-for-tests",
    "webhook_secret": WEBHOOK_SECRET,
    "mailgun_signing_key": MAILGUN_KEY,
}


async def connect_email(
    rt: Runtime,
    tenant: SampleTenant,
    *,
    smtp_port: int,
    inbound: str = "sendgrid",
    options: dict[str, Any] | None = None,
    credentials: dict[str, str] | None = None,
) -> str:
    """Connect a support address to ``tenant``, sending through the local SMTP server."""
    address = f"soporte-{secrets.token_hex(4)}@acme.example"
    async with rt.db.session() as session:
        await add_connection(
            session,
            rt.box,
            tenant.context.id,
            kind="email",
            account_id=address,
            credentials=credentials or CREDENTIALS,
            options={
                "display_name": "Acme Soporte",
                "reply_domain": "reply.acme.example",
                "inbound": inbound,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "smtp_tls": "none",
                **(options or {}),
            },
            actor="test",
        )
    return address


async def messages_of(rt: Runtime, tenant: SampleTenant) -> list[Message]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(Message)
            .where(Message.tenant_id == tenant.context.id)
            .order_by(Message.created_at, Message.seq)
        )
        return list(rows)


async def thread_of(rt: Runtime, tenant: SampleTenant) -> list[EmailThread]:
    async with rt.db.session() as session, system_scope(session):
        rows = await session.scalars(
            select(EmailThread).where(EmailThread.tenant_id == tenant.context.id)
        )
        return list(rows)
