"""Inbound routes of channels whose requests are signed rather than keyed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError

from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ApiMessageCreate, MessageAccepted
from frontdesk.errors import Invalid, Unauthorized
from frontdesk.gateway.deps import PathTenant, RuntimeDep, Session, limit
from frontdesk.security.signatures import (
    DEFAULT_TOLERANCE,
    ReplayedMessage,
    replay_ttl,
    verify_request,
)

router = APIRouter(prefix="/v1/channels", tags=["channels"])


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, so it can stand inside the OpenAPI
    document (whose references resolve from the document's root, not the schema's)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


SIGNED = {
    "parameters": [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline(ApiMessageCreate)}},
    },
}


@router.post("/api/{tenant}/messages", status_code=202, openapi_extra=SIGNED)
async def api_message(
    rt: RuntimeDep,
    session: Session,
    request: Request,
    response: Response,
    tenant: PathTenant,
) -> MessageAccepted:
    """A customer's message from the tenant's system, signed with Standard Webhooks using the
    tenant's ``api`` secret; the reply is read back from the conversation."""
    body = await request.body()
    secrets = await rt.secrets.active(session, tenant.id, purpose="api")
    if not secrets:
        raise Unauthorized("the API channel has no signing secret: create one first")
    signed = verify_request(secrets, request.headers, body)
    try:
        data = ApiMessageCreate.model_validate_json(body)
    except ValidationError as exc:
        fields = "; ".join(f"{'/'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(fields[:1000]) from exc
    external_id = data.message_id or signed.msg_id
    stored = await conversations.find_message(
        session, tenant, channel="api", external_id=external_id
    )
    if stored is not None:
        # A retry (or a replay) of a message already stored changes nothing.
        return MessageAccepted(
            id=stored.id,
            conversation_id=stored.conversation_id,
            seq=stored.seq,
            status=stored.status,
            duplicate=True,
        )
    if not await rt.replay.first_use(
        f"api-{tenant.id}", signed.msg_id, replay_ttl(DEFAULT_TOLERANCE)
    ):
        raise ReplayedMessage("this message id is being received already")
    await limit(rt, session, response, tenant, scope="visitor", identity=f"api:{data.contact.id}")
    conversation = await conversations.conversation_for_identity(
        session,
        tenant,
        channel="api",
        external_id=data.contact.id,
        profile=conversations.Profile(
            name=data.contact.name, email=data.contact.email, phone=data.contact.phone
        ),
    )
    received = await conversations.receive(
        session,
        tenant,
        conversation,
        text=data.text,
        external_id=data.message_id or signed.msg_id,
        events=rt.hub,
        sender="customer",
    )
    message = received.message
    return MessageAccepted(
        id=message.id,
        conversation_id=conversation.id,
        seq=message.seq,
        status=message.status,
        duplicate=received.duplicate,
    )
