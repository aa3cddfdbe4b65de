"""The email channel's adapter: a reply becomes one email on the conversation's thread, sent
through the tenant's SMTP server.

Before sending, in the send's own transaction (``thread``), it reads the thread: the subject
("Re: …"), the Message-IDs the reply answers (``In-Reply-To``, ``References``), the
conversation's reply address (``Reply-To``), and, when the reply offers to continue on
WhatsApp, a transfer code (``channels/transfer.py``) whose ``wa.me`` link goes in the email.
Our Message-ID is made from the stored message's id (a retried send carries the same one)
and is stored as the message's provider id, which is how the customer's answer finds its
thread.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels import transfer
from frontdesk.channels.base import ChannelNotConfigured, Outbound, SendResult
from frontdesk.channels.connections import open_credentials
from frontdesk.channels.email import render as email_render
from frontdesk.channels.email import threads
from frontdesk.channels.email.smtp import SmtpClient
from frontdesk.channels.ingest import last_customer_message
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import MessageRepository
from frontdesk.delivery.errors import PermanentFailure
from frontdesk.engine.reply import Reply
from frontdesk.security.crypto import SecretBox
from frontdesk.tenancy.context import Connection, TenantContext

log = structlog.get_logger("frontdesk.channels.email")
SUBJECT: Final = {"es": "Tu consulta", "en": "Your enquiry"}
REPLY_PREFIXES: Final = ("re:", "aw:", "rv:", "res:", "sv:")


def message_id_of(message_id: Any, domain: str) -> str:
    """Our Message-ID for a stored message (without brackets): the same on every attempt."""
    hex_id = getattr(message_id, "hex", str(message_id))
    return f"fd.{hex_id}@{domain}"


def reply_subject(subject: str, language: str) -> str:
    subject = " ".join(subject.replace("\r", " ").replace("\n", " ").split())[:200]
    if not subject:
        return SUBJECT.get(language, SUBJECT["es"])
    return subject if subject.lower().startswith(REPLY_PREFIXES) else f"Re: {subject}"


def _domain(connection: Connection) -> str:
    options = connection.options
    domain = options.get("message_id_domain") or options.get("reply_domain")
    return str(domain or connection.account_id.rpartition("@")[2])


class EmailAdapter:
    kind = "email"
    pushes = True
    capabilities = email_render.CAPABILITIES

    def __init__(self, box: SecretBox, smtp: SmtpClient | None = None) -> None:
        self._box = box
        self.smtp = smtp or SmtpClient()

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        return email_render.render(reply)

    def connection(self, tenant: TenantContext, account: str | None = None) -> Connection:
        """The connection that sends: the thread's address, else the tenant's email."""
        found = next(
            (
                c
                for c in tenant.channels
                if c.kind == self.kind and c.active and (account is None or c.account_id == account)
            ),
            None,
        )
        found = found or tenant.channel(self.kind)
        if found is None:
            raise PermanentFailure(f"{tenant.slug} has no active email connection")
        return found

    async def thread(
        self,
        session: AsyncSession,
        tenant: TenantContext,
        message: Message,
        conversation: Conversation,
    ) -> Mapping[str, Any]:
        """The thread headers of ``message``, and a transfer code when it offers WhatsApp; our
        Message-ID joins the thread (kept only if the send succeeds, with its transaction)."""
        row = await threads.thread_of(session, tenant, conversation.id)
        connection = self.connection(tenant, row.account if row is not None else None)
        own_id = message_id_of(message.id, _domain(connection))
        domain = connection.options.get("reply_domain")
        found: dict[str, Any] = {
            "account": connection.account_id,
            "message_id": own_id,
            "subject": row.subject if row is not None else "",
            "references": list(row.references) if row is not None else [],
            "reply_to": f"{threads.REPLY_PREFIX}{row.token}@{domain}" if row and domain else None,
            "to": await self._addressee(session, tenant, message, conversation),
        }
        link = await self._transfer(session, tenant, message, conversation)
        if link is not None:
            found["transfer_link"] = link
        if row is not None:
            row.references = threads.chain(row.references, [own_id])
        return found

    @staticmethod
    async def _addressee(
        session: AsyncSession, tenant: TenantContext, message: Message, conversation: Conversation
    ) -> str | None:
        """Who wrote what ``message`` answers (a thread may have several people on it: the
        answer goes to the one who asked), else who wrote last."""
        asked: Message | None = None
        key = message.external_id or ""
        if key.startswith("reply:"):
            with contextlib.suppress(ValueError):
                asked = await MessageRepository(session, tenant.id).get(
                    uuid.UUID(key.removeprefix("reply:"))
                )
        if asked is None:
            asked = await last_customer_message(session, tenant, conversation.id, "email")
        sender = asked.payload.get("from") if asked is not None else None
        return sender if isinstance(sender, str) and sender else None

    async def _transfer(
        self,
        session: AsyncSession,
        tenant: TenantContext,
        message: Message,
        conversation: Conversation,
    ) -> str | None:
        try:
            reply = Reply.from_dict(message.payload)
        except ValueError:
            return None
        wants = any(
            a.kind == "transfer" and a.data.get("channel", "whatsapp") == "whatsapp"
            for a in reply.actions
        )
        if not wants:
            return None
        try:
            issued = await transfer.issue(
                session, tenant, conversation, channel="whatsapp", language=reply.language
            )
        except (ChannelNotConfigured, transfer.NotTransferable) as exc:
            log.info("email.transfer_unavailable", tenant=tenant.slug, reason=exc.detail)
            return None
        return issued.link

    async def send(self, tenant: TenantContext, outbound: Outbound) -> SendResult:
        thread = outbound.thread
        connection = self.connection(tenant, thread.get("account"))
        secrets = open_credentials(self._box, connection)
        options = connection.options
        own_id = str(
            thread.get("message_id") or message_id_of(outbound.message_id, _domain(connection))
        )
        email = self.compose(connection, outbound, own_id)
        await self.smtp.send(
            email,
            host=str(options["smtp_host"]),
            port=int(options.get("smtp_port") or 587),
            tls=str(options.get("smtp_tls") or "starttls"),
            username=secrets.get("smtp_username"),
            password=secrets.get("smtp_password"),
        )
        return SendResult(provider_id=own_id)

    def compose(self, connection: Connection, outbound: Outbound, own_id: str) -> EmailMessage:
        """The email of ``outbound``: headers of its thread, a text and an HTML body."""
        thread = outbound.thread
        reply = outbound.reply
        (body,) = email_render.render(reply, transfer_link=thread.get("transfer_link"))
        display = connection.options.get("display_name") or None
        references = [str(r) for r in thread.get("references") or [] if r != own_id]
        answered = outbound.in_reply_to or (references[-1] if references else None)
        if answered and answered.startswith("sha256:"):
            answered = None  # an email that had no Message-ID: nothing to answer by
        if answered and answered not in references:
            references.append(answered)
        email = EmailMessage(policy=policy.SMTP)
        email["From"] = (
            formataddr((display, connection.account_id)) if display else connection.account_id
        )
        email["To"] = str(thread.get("to") or outbound.recipient)
        email["Subject"] = reply_subject(str(thread.get("subject") or ""), reply.language)
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = f"<{own_id}>"
        if answered:
            email["In-Reply-To"] = f"<{answered}>"
        if references:
            email["References"] = " ".join(f"<{r}>" for r in references[-20:])
        if thread.get("reply_to"):
            reply_to = str(thread["reply_to"])
            email["Reply-To"] = formataddr((display, reply_to)) if display else reply_to
        if outbound.sender == "assistant":
            # RFC 3834: an automatic answer; and Exchange, please do not auto-reply to it.
            email["Auto-Submitted"] = "auto-replied"
            email["X-Auto-Response-Suppress"] = "All"
        email.set_content(body["text"])
        email.add_alternative(body["html"], subtype="html")
        return email
