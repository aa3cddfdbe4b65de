"""The WhatsApp channel: renders replies within WhatsApp's limits and sends them through the
tenant's connection, keeping the 24-hour customer-service window."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Final

import structlog

from frontdesk.channels.base import Outbound, SendResult
from frontdesk.channels.connections import open_credentials
from frontdesk.channels.whatsapp import render as wa_render
from frontdesk.channels.whatsapp.client import GraphClient, OutsideWindow
from frontdesk.delivery.errors import DeliveryFailed, PermanentFailure
from frontdesk.engine.reply import Reply
from frontdesk.security.crypto import SecretBox
from frontdesk.store.base import utcnow
from frontdesk.tenancy.context import TenantContext

WINDOW: Final = timedelta(hours=24)
log = structlog.get_logger("frontdesk.channels.whatsapp")


class WhatsAppAdapter:
    kind = "whatsapp"
    pushes = True
    capabilities = wa_render.CAPABILITIES

    def __init__(self, box: SecretBox, graph: GraphClient) -> None:
        self._box = box
        self.graph = graph

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        return wa_render.render(reply)

    def credentials(self, tenant: TenantContext) -> tuple[str, str]:
        """The tenant's phone-number id and access token."""
        connection = tenant.channel(self.kind)
        if connection is None:
            raise PermanentFailure(f"{tenant.slug} has no active WhatsApp connection")
        token = open_credentials(self._box, connection)["access_token"]
        return connection.account_id, token

    async def send(
        self, tenant: TenantContext, outbound: Outbound, *, now: datetime | None = None
    ) -> SendResult:
        phone_number_id, token = self.credentials(tenant)
        last = outbound.last_customer_at
        if last is None or (now or utcnow()) - last >= WINDOW:
            return await self._outside_window(tenant, outbound, phone_number_id, token)
        if outbound.in_reply_to and outbound.start == 0:
            # Blue ticks for the message being answered; never worth failing the reply for.
            with contextlib.suppress(DeliveryFailed):
                await self.graph.mark_read(phone_number_id, token, outbound.in_reply_to)
        payloads = self.render(outbound.reply)[outbound.start :]
        first: str | None = None
        for sent, payload in enumerate(payloads):
            try:
                wamid = await self.graph.send(phone_number_id, token, outbound.recipient, payload)
            except DeliveryFailed as exc:
                if sent == 0 or isinstance(exc, PermanentFailure):
                    raise
                return SendResult(provider_id=first, parts=sent, failure=exc)
            first = first or wamid
        return SendResult(provider_id=first, parts=len(payloads))

    async def _outside_window(
        self, tenant: TenantContext, outbound: Outbound, phone_number_id: str, token: str
    ) -> SendResult:
        """Only an approved template may open a conversation: send the tenant's re-engagement
        template if it has one, else hold the reply (the tenant is told)."""
        connection = tenant.channel(self.kind)
        options = connection.options if connection else {}
        name = options.get("reengagement_template")
        if not name:
            log.info("whatsapp.reply_held", tenant=tenant.slug, reason="outside_window")
            return SendResult(provider_id=None, status="held", parts=0, note="outside_window")
        language = str(options.get("template_language") or "es")
        try:
            wamid = await self.graph.send(
                phone_number_id, token, outbound.recipient, wa_render.template(str(name), language)
            )
        except OutsideWindow:
            return SendResult(provider_id=None, status="held", parts=0, note="outside_window")
        return SendResult(provider_id=wamid, note="template")
