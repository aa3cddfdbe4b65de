"""Visitor tokens: a token is good for its tenant only, untampered and unexpired."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from frontdesk.security.tokens import AUDIENCE, InvalidToken, VisitorClaims, VisitorTokens
from frontdesk.store.base import utcnow

KEY = b"k" * 32


def test_round_trip() -> None:
    tokens = VisitorTokens(KEY, issuer="frontdesk")
    claims = VisitorClaims(tenant_id=uuid.uuid4(), contact_id=uuid.uuid4())
    assert tokens.verify(tokens.issue(claims), tenant_id=claims.tenant_id) == claims


@pytest.mark.parametrize(
    "mutate",
    [
        "other_tenant",
        "other_instance_key",
        "tampered",
        "alg_none",
        "expired",
        "wrong_typ",
        "garbage",
    ],
)
def test_refused(mutate: str) -> None:
    tokens = VisitorTokens(KEY, issuer="frontdesk")
    claims = VisitorClaims(tenant_id=uuid.uuid4(), contact_id=uuid.uuid4())
    token = tokens.issue(claims)
    tenant = claims.tenant_id
    if mutate == "other_tenant":
        tenant = uuid.uuid4()
    elif mutate == "other_instance_key":
        token = VisitorTokens(b"z" * 32, issuer="frontdesk").issue(claims)
    elif mutate == "tampered":
        head, body, sig = token.split(".")
        token = f"{head}.{body[:-2]}AA.{sig}"
    elif mutate == "alg_none":
        payload = jwt.decode(token, options={"verify_signature": False})
        token = jwt.encode(payload, None, algorithm="none", headers={"typ": "visitor"})
    elif mutate == "expired":
        payload = jwt.decode(token, options={"verify_signature": False})
        payload["exp"] = int((utcnow() - timedelta(seconds=5)).timestamp())
        token = jwt.encode(payload, tokens._key, algorithm="HS256", headers={"typ": "visitor"})
    elif mutate == "wrong_typ":
        payload = jwt.decode(token, options={"verify_signature": False})
        token = jwt.encode(payload, tokens._key, algorithm="HS256", headers={"typ": "access"})
    elif mutate == "garbage":
        token = "not.a.token"
    with pytest.raises(InvalidToken):
        tokens.verify(token, tenant_id=tenant)
    assert AUDIENCE == "frontdesk:web"
