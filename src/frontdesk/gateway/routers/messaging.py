"""Messenger and Instagram Direct webhooks: Meta's subscription handshake and notifications.

The tenant is found from each entry (``entry[].id``: the page or Instagram account id), and an
entry counts only when ``X-Hub-Signature-256`` checks with that connection's app secret. The
answer is sent once everything is stored, so Meta's retries are the only resend needed, and
each message id (``mid``) is stored once whatever the number of retries. Echoes of our own
messages are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.connections import open_credentials, tenants_with_verify_token
from frontdesk.channels.ingest import apply_status, ingest_message
from frontdesk.channels.meta_messaging import receipts
from frontdesk.channels.meta_messaging import webhook as messaging
from frontdesk.delivery import webhooks
from frontdesk.errors import Invalid
from frontdesk.gateway.deps import RuntimeDep, Session
from frontdesk.runtime import Runtime
from frontdesk.security.signatures import (
    META_HEADER,
    ChallengeRefused,
    InvalidSignature,
    meta_challenge,
    verify_meta_signature,
)
from frontdesk.tenancy.context import TenantContext

router = APIRouter(prefix="/webhooks", tags=["provider webhooks"])
log = structlog.get_logger("frontdesk.channels")
Mode = Annotated[str | None, Query(alias="hub.mode", max_length=32)]
VerifyToken = Annotated[str | None, Query(alias="hub.verify_token", max_length=256)]
Challenge = Annotated[str | None, Query(alias="hub.challenge", max_length=512)]


def _routes(kind: str, name: str, what: str) -> None:
    """``GET`` (the handshake) and ``POST`` (the notifications) of ``/webhooks/{kind}``."""

    async def handshake(
        session: Session,
        mode: Mode = None,
        verify_token: VerifyToken = None,
        challenge: Challenge = None,
    ) -> PlainTextResponse:
        if not verify_token or not await tenants_with_verify_token(session, kind, verify_token):
            raise ChallengeRefused("the verify token does not match")
        params = {
            "hub.mode": mode or "",
            "hub.verify_token": verify_token,
            "hub.challenge": challenge or "",
        }
        return PlainTextResponse(meta_challenge(params, verify_token))

    async def notification(request: Request, rt: RuntimeDep) -> dict[str, int]:
        return await _notification(rt, request, kind)

    router.add_api_route(
        f"/{kind}",
        handshake,
        methods=["GET"],
        response_class=PlainTextResponse,
        name=f"{kind}_handshake",
        description=f"Meta's subscription check: echo `hub.challenge` when the verify token "
        f"is a {name} connection's.",
    )
    router.add_api_route(
        f"/{kind}",
        notification,
        methods=["POST"],
        name=f"{kind}_notification",
        description=f"{what} from {name}, stored before the acknowledgement.",
    )


_routes("messenger", "Messenger", "Messages, postbacks, reactions and receipts")
_routes("instagram", "Instagram", "Messages, story mentions and replies, reactions and receipts")


async def _notification(rt: Runtime, request: Request, kind: str) -> dict[str, int]:
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("the body is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise Invalid("the body is not a JSON object")
    by_account: dict[str, list[Any]] = {}
    for account, items in messaging.entries(payload, kind):
        by_account.setdefault(account, []).extend(items)
    signature = request.headers.get(META_HEADER)
    counts = {"messages": 0, "statuses": 0, "duplicates": 0, "deleted": 0, "echoes": 0}
    verified_any = False
    async with rt.db.session() as session:
        for account, items in by_account.items():
            tenant = await rt.tenants.by_channel_account(kind, account, session=session)
            connection = tenant.channel(kind) if tenant else None
            if tenant is None or connection is None:
                log.info(f"{kind}.unknown_account", account=account[:64])
                continue
            app_secret = open_credentials(rt.box, connection)["app_secret"]
            try:
                verify_meta_signature(app_secret, signature, body)
            except InvalidSignature:
                log.warning(f"{kind}.bad_signature", tenant=tenant.slug)
                continue
            verified_any = True
            if not tenant.active:
                log.info(f"{kind}.tenant_inactive", tenant=tenant.slug, status=tenant.status)
                continue
            events = messaging.parse(kind, account, items)
            await _store(rt, session, tenant, events, counts)
    if by_account and not verified_any:
        raise InvalidSignature("the signature does not match any connection it names")
    return counts


async def _store(
    rt: Runtime,
    session: AsyncSession,
    tenant: TenantContext,
    events: messaging.Events,
    counts: dict[str, int],
) -> None:
    for inbound in events.messages:
        ingested = await ingest_message(session, tenant, inbound, events=rt.hub)
        counts["duplicates" if ingested.duplicate else "messages"] += 1
        if ingested.message is not None and not ingested.duplicate:
            rt.metrics.messages.labels(events.channel, "in").inc()
    statuses = list(events.statuses)
    for mark in events.watermarks:
        statuses += await receipts.watermark_events(session, tenant, events, mark)
    for status in statuses:
        changed = await apply_status(session, tenant, status)
        counts["statuses"] += 1
        if changed is not None:
            await webhooks.message_status(session, tenant, changed)
    for deletion in events.deletions:
        if await receipts.forget_deleted(session, tenant, events.channel, deletion) is not None:
            counts["deleted"] += 1
    counts["echoes"] += events.echoes
