"""Email providers' inbound-parse webhooks: SendGrid Inbound Parse, Mailgun routes and
Postmark inbound, at ``POST /webhooks/email/{provider}``.

The tenant is found from the recipient (the connection's address, or a conversation's reply
address). Mailgun's posts are signed (HMAC-SHA256 of timestamp and token with the connection's
signing key; stale timestamps and replayed tokens refused); SendGrid and Postmark sign nothing,
so their webhook URL carries the connection's secret as HTTP basic auth credentials
(``https://frontdesk:<secret>@…``), compared in constant time. The answer is sent once the
message is stored: the provider's retries are the only resend needed, and a Message-ID is
stored once whatever the number of retries.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import orjson
import structlog
from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from frontdesk.channels.connections import open_credentials
from frontdesk.channels.email import providers, threads
from frontdesk.channels.email.inbound import receive_email
from frontdesk.channels.email.message import MAX_ATTACHMENTS, IncomingEmail
from frontdesk.errors import Invalid
from frontdesk.runtime import Runtime
from frontdesk.security.signatures import InvalidSignature, ReplayedMessage
from frontdesk.tenancy.context import Connection, TenantContext

PREFIX = "/webhooks/email"
router = APIRouter(prefix=PREFIX, tags=["provider webhooks"])
log = structlog.get_logger("frontdesk.channels.email")
Provider = Literal["sendgrid", "mailgun", "postmark"]
MAX_FIELDS = 300


@router.post("/{provider}")
async def email_inbound(provider: Provider, request: Request) -> dict[str, int]:
    """An email from the provider's inbound parsing, stored before the acknowledgement."""
    rt: Runtime = request.app.state.runtime
    form: dict[str, str] = {}
    if provider == "postmark":
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise Invalid("the body is not JSON") from exc
        if not isinstance(payload, Mapping):
            raise Invalid("the body is not a JSON object")
        email = _read(lambda: providers.postmark(payload))
    else:
        form, files = await _form(request)
        parse = providers.sendgrid if provider == "sendgrid" else providers.mailgun
        email = _read(lambda: parse(form, files))
    async with rt.db.session() as session:
        found = await _recipient(rt, session, email)
        if found is None:
            log.info("email.unknown_recipient", provider=provider)
            raise InvalidSignature("no connection receives mail for these recipients")
        tenant, connection = found
        await _authenticate(rt, request, provider, connection, form)
        if not tenant.active:
            log.info("email.tenant_inactive", tenant=tenant.slug, status=tenant.status)
            return {"messages": 0, "duplicates": 0, "ignored": 1}
        outcome = await receive_email(session, tenant, connection, email, events=rt.hub)
    if outcome.result == "stored":
        rt.metrics.messages.labels("email", "in").inc()
    return {
        "messages": int(outcome.result == "stored"),
        "duplicates": int(outcome.result == "duplicate"),
        "ignored": int(outcome.result == "ignored"),
    }


@router.post("/mailgun/mime", include_in_schema=False)
async def mailgun_mime(request: Request) -> dict[str, int]:
    """Mailgun posts the raw message (``body-mime``) to a route URL that ends in ``mime``."""
    return await email_inbound("mailgun", request)


def _read(parse: Callable[[], IncomingEmail]) -> IncomingEmail:
    try:
        return parse()
    except Exception as exc:  # untrusted MIME the standard library could not read
        raise Invalid("the email could not be read") from exc


async def _form(request: Request) -> tuple[dict[str, str], list[providers.Upload]]:
    """The post's text fields, and its files by metadata (their bytes are not kept)."""
    try:
        data = await request.form(
            max_files=MAX_ATTACHMENTS * 2,
            max_fields=MAX_FIELDS,
            max_part_size=26 * 1024 * 1024,
        )
    except Exception as exc:  # malformed multipart, too many parts: the client's fault
        raise Invalid("the body is not a form this route reads") from exc
    fields: dict[str, str] = {}
    files: list[providers.Upload] = []
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):
            files.append(
                providers.Upload(
                    name[:100], value.filename or "", value.content_type or "", value.size or 0
                )
            )
        elif name not in fields:
            fields[name] = value
    await data.close()
    return fields, files


async def _recipient(
    rt: Runtime, session: AsyncSession, email: IncomingEmail
) -> tuple[TenantContext, Connection] | None:
    """The tenant and connection the email was sent to: a reply address, or an address."""
    for recipient in email.recipients:
        address = threads.reply_address(recipient)
        if address is not None:
            row = await threads.thread_of_token(session, address.token)
            if row is None:
                continue
            tenant = await rt.tenants.by_id(row.tenant_id, session=session)
            connection = _connection(tenant, row.account)
            if connection is not None and connection.options.get("reply_domain") == address.domain:
                return tenant, connection
            continue
        found = await rt.tenants.by_channel_account("email", recipient[:64], session=session)
        connection = _connection(found, recipient) if found is not None else None
        if found is not None and connection is not None:
            return found, connection
    return None


def _connection(tenant: TenantContext, account: str) -> Connection | None:
    return next(
        (c for c in tenant.channels if c.kind == "email" and c.account_id == account and c.active),
        None,
    )


async def _authenticate(
    rt: Runtime, request: Request, provider: str, connection: Connection, form: Mapping[str, str]
) -> None:
    if connection.options.get("inbound") != provider:
        raise InvalidSignature(f"this address does not receive mail through {provider}")
    secrets = open_credentials(rt.box, connection)
    if provider == "mailgun":
        await _mailgun(rt, secrets.get("mailgun_signing_key"), form)
        return
    expected = secrets.get("webhook_secret")
    given = _basic_password(request.headers.get("authorization", ""))
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise InvalidSignature("the webhook's credentials do not match the connection's")


async def _mailgun(rt: Runtime, key: str | None, form: Mapping[str, Any]) -> None:
    timestamp, token = str(form.get("timestamp", ""))[:20], str(form.get("token", ""))[:200]
    signature = str(form.get("signature", ""))[:200]
    if not key or not timestamp.isdigit() or not token or not signature:
        raise InvalidSignature("the post is not signed")
    if not providers.mailgun_signed(key, timestamp, token, signature):
        raise InvalidSignature("the signature does not match")
    age = abs(time.time() - int(timestamp))
    if age > providers.MAILGUN_MAX_AGE.total_seconds():
        raise InvalidSignature("the signature's timestamp is too old")
    # The signature covers the timestamp and token, not the body: a token is good once.
    if not await rt.replay.first_use("mailgun", token, providers.MAILGUN_MAX_AGE * 2):
        raise ReplayedMessage("this signed token was already used")


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep else None
