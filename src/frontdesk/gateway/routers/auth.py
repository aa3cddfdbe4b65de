"""Token issuance for tenants' servers (client credentials) and the public signing keys."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from frontdesk.errors import Invalid, Unauthorized
from frontdesk.gateway.deps import RuntimeDep, Session, authenticate_server, limit
from frontdesk.security.audit import record
from frontdesk.security.tokens import ACCESS

router = APIRouter(tags=["auth"])
MAX_FORM = 8192


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    grant_type: str = Field(pattern=r"^client_credentials$", max_length=32)
    client_secret: str | None = Field(default=None, max_length=100)
    scope: str | None = Field(default=None, max_length=1000)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int
    scope: str


def _basic_secret(authorization: str | None) -> str | None:
    """``Authorization: Basic base64(client_id:client_secret)``; the secret key is the secret."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials") from exc
    return decoded.partition(":")[2] or None


async def _token_request(request: Request) -> TokenRequest:
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Invalid("the token request is too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode(), max_num_fields=10, strict_parsing=False)
            data = {name: values[0] for name, values in form.items() if values}
        elif kind == "application/json":
            data = orjson.loads(body)
        else:
            raise Invalid("send the token request as application/x-www-form-urlencoded or JSON")
        return TokenRequest.model_validate(data)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValidationError):
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise Invalid(f"invalid token request: {fields}") from exc
        raise Invalid("the token request is malformed") from exc


@router.post(
    "/v1/auth/token",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {"schema": TokenRequest.model_json_schema()},
                "application/json": {"schema": TokenRequest.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def issue_token(
    rt: RuntimeDep,
    session: Session,
    request: Request,
    response: Response,
    authorization: Annotated[str | None, Header(max_length=4200)] = None,
) -> TokenResponse:
    """Exchange a secret key for a short-lived Tenant Access Token (OAuth 2 client credentials)."""
    body = await _token_request(request)
    secret = body.client_secret or _basic_secret(authorization)
    if not secret or not secret.startswith("sk_"):
        raise Unauthorized("a secret key is required as client_secret or Basic password")
    caller = await authenticate_server(rt, session, request, secret)
    family = caller.key_family or caller.subject
    await limit(rt, session, response, caller.tenant, scope="key", identity=str(family))
    scopes = caller.scopes
    if body.scope:
        wanted = frozenset(body.scope.split())
        if not wanted <= caller.scopes:
            raise Invalid("the requested scope exceeds the key's scopes")
        scopes = wanted
    issued = rt.tokens.issue(
        ACCESS,
        tenant_id=caller.tenant.id,
        subject=caller.subject,
        scopes=scopes,
        key_family=caller.key_family,
    )
    record(
        session,
        caller.tenant.id,
        actor=caller.subject,
        action="token.issued",
        target=issued.claims.jti,
        data={"scopes": sorted(scopes)},
    )
    return TokenResponse(
        access_token=issued.token,
        expires_in=int((issued.claims.expires_at - issued.claims.issued_at).total_seconds()),
        scope=" ".join(sorted(scopes)),
    )


@router.get("/.well-known/jwks.json")
async def jwks(rt: RuntimeDep) -> dict[str, list[dict[str, Any]]]:
    """The public keys that verify Front Desk's tokens (JWKS, RFC 7517)."""
    return rt.keyring.jwks()
