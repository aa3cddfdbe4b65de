"""Visitor tokens: a browser's proof that it is the visitor a conversation belongs to."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from frontdesk.errors import Unauthorized
from frontdesk.ids import new_id
from frontdesk.store.base import utcnow

VISITOR_TTL = timedelta(days=30)
AUDIENCE = "frontdesk:web"
TYP = "visitor"


class InvalidToken(Unauthorized):
    title = "Invalid visitor token"
    type_slug = "invalid-token"


@dataclass(frozen=True, slots=True)
class VisitorClaims:
    tenant_id: uuid.UUID
    contact_id: uuid.UUID


class VisitorTokens:
    """Signs and checks visitor tokens (HS256, algorithm pinned, typ, aud, iss and exp checked)."""

    def __init__(self, instance_key: bytes, *, issuer: str) -> None:
        self._key = hmac.new(instance_key, b"frontdesk visitor token v1", hashlib.sha256).digest()
        self._issuer = issuer

    def issue(self, claims: VisitorClaims) -> str:
        now = utcnow()
        return jwt.encode(
            {
                "iss": self._issuer,
                "aud": AUDIENCE,
                "sub": str(claims.contact_id),
                "tid": str(claims.tenant_id),
                "iat": now,
                "nbf": now,
                "exp": now + VISITOR_TTL,
                "jti": str(new_id()),
            },
            self._key,
            algorithm="HS256",
            headers={"typ": TYP},
        )

    def verify(self, token: str, *, tenant_id: uuid.UUID) -> VisitorClaims:
        if len(token) > 2048:
            raise InvalidToken("token too long")
        try:
            if jwt.get_unverified_header(token).get("typ") != TYP:
                raise InvalidToken("not a visitor token")
            data = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            claims = VisitorClaims(
                tenant_id=uuid.UUID(data["tid"]), contact_id=uuid.UUID(data["sub"])
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise InvalidToken("the visitor token is invalid or expired") from exc
        if claims.tenant_id != tenant_id:
            raise InvalidToken("the visitor token belongs to another tenant")
        return claims
