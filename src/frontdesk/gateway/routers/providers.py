"""Providers' webhooks: Meta's WhatsApp Cloud API subscription handshake and notifications.

The tenant is found from the notification itself (``metadata.phone_number_id``), and each
change counts only when ``X-Hub-Signature-256`` checks with that connection's app secret. The
answer is sent once everything is durably stored (the messages by the process's group-commit
writer, :mod:`frontdesk.channels.batch`), so Meta's retries are the only resend needed, and
each provider message id is stored once whatever the number of retries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from frontdesk.channels.connections import open_credentials, tenants_with_verify_token
from frontdesk.channels.ingest import apply_status
from frontdesk.channels.whatsapp import webhook as whatsapp
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


@router.get("/whatsapp", response_class=PlainTextResponse)
async def whatsapp_handshake(
    rt: RuntimeDep,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=256)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=512)] = None,
) -> PlainTextResponse:
    """Meta's subscription check: echo ``hub.challenge`` when the verify token is a
    connection's."""
    if not verify_token or not await tenants_with_verify_token(session, "whatsapp", verify_token):
        raise ChallengeRefused("the verify token does not match")
    params = {
        "hub.mode": mode or "",
        "hub.verify_token": verify_token,
        "hub.challenge": challenge or "",
    }
    return PlainTextResponse(meta_challenge(params, verify_token))


@router.post("/whatsapp")
async def whatsapp_notification(request: Request) -> dict[str, int]:
    """Messages and status updates from WhatsApp, stored before the acknowledgement."""
    # The hot inbound route takes no dependencies (each costs ≈ 12 µs per request). Its
    # messages go to the process's group-commit writer, which answers each once the batch
    # holding it has committed, so a 200 means stored.
    rt: Runtime = request.app.state.runtime
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid("the body is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise Invalid("the body is not a JSON object")
    by_account: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for value in whatsapp.changes(payload):
        by_account[whatsapp.account_of(value)].append(value)
    signature = request.headers.get(META_HEADER)
    counts = {"messages": 0, "statuses": 0, "duplicates": 0}
    verified_any = False
    for account, values in by_account.items():
        tenant = await rt.tenants.by_channel_account("whatsapp", account)
        connection = tenant.channel("whatsapp") if tenant else None
        if tenant is None or connection is None:
            log.info("whatsapp.unknown_account", account=account[:64])
            continue
        app_secret = open_credentials(rt.box, connection)["app_secret"]
        try:
            verify_meta_signature(app_secret, signature, body)
        except InvalidSignature:
            log.warning("whatsapp.bad_signature", tenant=tenant.slug)
            continue
        verified_any = True
        if not tenant.active:
            log.info("whatsapp.tenant_inactive", tenant=tenant.slug, status=tenant.status)
            continue
        for value in values:
            await _store(rt, tenant, value, counts)
    if by_account and not verified_any:
        raise InvalidSignature("the signature does not match any connection it names")
    return counts


async def _store(
    rt: Runtime, tenant: TenantContext, value: Mapping[str, Any], counts: dict[str, int]
) -> None:
    messages, statuses = whatsapp.parse(value)
    if len(messages) == 1:
        outcomes = [await rt.inbound.ingest(tenant, messages[0])]
    else:
        # Handed to the writer together: they are queued in order and usually share a batch.
        outcomes = await rt.inbound.ingest_all(tenant, messages)
    for ingested in outcomes:
        counts["duplicates" if ingested.duplicate else "messages"] += 1
        if ingested.stored and not ingested.duplicate:
            rt.metrics.messages.labels("whatsapp", "in").inc()
    if not statuses:
        return
    async with rt.db.session() as session:
        for status in statuses:
            changed = await apply_status(session, tenant, status)
            counts["statuses"] += 1
            if changed is not None:
                await webhooks.message_status(session, tenant, changed)
