"""Sending on a Messenger Platform channel: the 24-hour window, the ``HUMAN_AGENT`` tag, sender
actions, and a reply in several parts that keeps what went out when a later part fails."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from frontdesk.channels.base import Outbound, SendResult
from frontdesk.channels.connections import open_credentials
from frontdesk.channels.graph import OutsideWindow
from frontdesk.channels.meta_messaging import render
from frontdesk.channels.meta_messaging.client import SendApi
from frontdesk.channels.render import Capabilities
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure
from frontdesk.engine.reply import Reply
from frontdesk.security.crypto import SecretBox
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import Connection, TenantContext

WINDOW: Final = timedelta(hours=24)
HUMAN_AGENT_WINDOW: Final = timedelta(days=7)
PERSON: Final = "agent"
log = structlog.get_logger("frontdesk.channels.meta_messaging")


class MetaMessagingAdapter:
    """What Messenger and Instagram Direct send alike; each declares its ``kind`` and
    ``style`` (limits, templates) and the path its messages are posted to."""

    kind: str
    pushes = True
    capabilities: Capabilities
    style: render.Style

    def __init__(self, box: SecretBox, api: SendApi) -> None:
        self._box = box
        self.api = api

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        return render.render(reply, self.style)

    def sender(self, connection: Connection) -> str:
        """Who sends, in the Send API's path: the page (or Instagram account) id."""
        return connection.account_id

    async def send(
        self, tenant: TenantContext, outbound: Outbound, *, now: datetime | None = None
    ) -> SendResult:
        connection = tenant.channel(self.kind)
        if connection is None:
            raise PermanentFailure(f"{tenant.slug} has no active {self.kind} connection")
        token = open_credentials(self._box, connection)["access_token"]
        sender, to = self.sender(connection), outbound.recipient
        last = outbound.last_customer_at
        age = (now or utcnow()) - last if last is not None else None
        tag = None
        if age is None or age >= WINDOW:
            tag = self._tag(connection, outbound, age)
            if tag is None:
                log.info(f"{self.kind}.reply_held", tenant=tenant.slug, reason="outside_window")
                return _held()
        elif outbound.start == 0:
            # Seen and typing while the answer goes out; never worth failing the reply for.
            with contextlib.suppress(DeliveryFailed):
                await self.api.sender_action(sender, token, to, "mark_seen")
                await self.api.sender_action(sender, token, to, "typing_on")
        messaging_type = "MESSAGE_TAG" if tag else "RESPONSE"
        payloads = self.render(outbound.reply)[outbound.start :]
        first: str | None = None
        for sent, payload in enumerate(payloads):
            try:
                mid = await self.api.send(
                    sender, token, to, payload, messaging_type=messaging_type, tag=tag
                )
            except OutsideWindow:
                if sent == 0:
                    return _held()
                raise
            except DeliveryFailed as exc:
                if sent == 0 or isinstance(exc, PermanentFailure):
                    raise
                return SendResult(provider_id=first, parts=sent, failure=exc)
            first = first or mid
        return SendResult(provider_id=first, parts=len(payloads), note=tag and tag.lower())

    @staticmethod
    def _tag(connection: Connection, outbound: Outbound, age: timedelta | None) -> str | None:
        """``HUMAN_AGENT`` for a person's answer within 7 days, where the tenant allows it."""
        allowed = bool(connection.options.get("human_agent_tag"))
        if allowed and outbound.sender == PERSON and age is not None and age < HUMAN_AGENT_WINDOW:
            return "HUMAN_AGENT"
        return None


def _held() -> SendResult:
    return SendResult(provider_id=None, status="held", parts=0, note="outside_window")
