"""Tenant Access Tokens and visitor tokens: every way to forge or misuse one is refused."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from frontdesk.runtime import Runtime
from frontdesk.security import signing
from frontdesk.security.tokens import ACCESS, VISITOR, InvalidToken, TokenService, revoke
from frontdesk.store.base import utcnow
from tests.factories import make_tenant

TENANT = uuid.uuid4()


def _parts(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def _forge(
    token: str,
    *,
    header: dict | None = None,
    claims: dict | None = None,
    key: object = None,
    alg: str = "ES256",
) -> str:
    head, body = _parts(token)
    head.update(header or {})
    body.update(claims or {})
    head.pop("alg", None)
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(body, key, algorithm=alg, headers=head)  # type: ignore[arg-type]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_an_access_token_round_trips(runtime: Runtime) -> None:
    issued = runtime.tokens.issue(
        ACCESS, tenant_id=TENANT, subject="key:1", scopes=["conversations:read"]
    )
    claims = await runtime.tokens.verify(issued.token, kind=ACCESS, tenant_id=TENANT)
    assert claims == issued.claims
    header, body = _parts(issued.token)
    assert header["alg"] == "ES256"
    assert header["typ"] == ACCESS
    assert header["kid"] == runtime.keyring.signing_key.kid
    assert {"iss", "aud", "exp", "nbf", "iat", "jti", "tid", "sub", "scope"} <= set(body)


def _public_pem(runtime: Runtime) -> bytes:
    return runtime.keyring.signing_key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


ATTACKS: dict[str, Callable[[Runtime, str], str]] = {
    "alg_none": lambda rt, t: jwt.encode(
        _parts(t)[1], None, algorithm="none", headers={"typ": ACCESS, "kid": _parts(t)[0]["kid"]}
    ),
    "hs256_with_public_key": lambda rt, t: ".".join(
        [
            _b64(b'{"alg":"HS256","typ":"at+jwt","kid":"' + _parts(t)[0]["kid"].encode() + b'"}'),
            t.split(".")[1],
            _b64(
                __import__("hmac")
                .new(
                    _public_pem(rt),
                    (
                        _b64(
                            b'{"alg":"HS256","typ":"at+jwt","kid":"'
                            + _parts(t)[0]["kid"].encode()
                            + b'"}'
                        )
                        + "."
                        + t.split(".")[1]
                    ).encode(),
                    "sha256",
                )
                .digest()
            ),
        ]
    ),
    "unknown_kid": lambda rt, t: _forge(t, header={"kid": "no-such-key"}),
    "injected_kid": lambda rt, t: _forge(t, header={"kid": "../../../dev/null' OR 1=1 --"}),
    "other_key_same_kid": lambda rt, t: _forge(t),
    "jku_header": lambda rt, t: _forge(t, header={"jku": "https://evil.example/jwks.json"}),
    "x5u_header": lambda rt, t: _forge(t, header={"x5u": "https://evil.example/cert.pem"}),
    "embedded_jwk": lambda rt, t: _forge(t, header={"jwk": {"kty": "EC"}}),
    "wrong_typ": lambda rt, t: (
        rt.tokens.issue(VISITOR, tenant_id=TENANT, subject=str(uuid.uuid4())).token
    ),
    "flipped_signature": lambda rt, t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"),
    "flipped_payload": lambda rt, t: (
        t.split(".")[0]
        + "."
        + t.split(".")[1][:-2]
        + ("Aa" if t.split(".")[1][-2:] != "Aa" else "Bb")
        + "."
        + t.split(".")[2]
    ),
    "truncated": lambda rt, t: t.rsplit(".", 1)[0],
    "garbage": lambda rt, t: "not-a-token",
    "oversized": lambda rt, t: t + "A" * 5000,
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_forged_tokens_are_refused(runtime: Runtime, attack: str) -> None:
    token = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1").token
    forged = ATTACKS[attack](runtime, token)
    with pytest.raises(InvalidToken):
        await runtime.tokens.verify(forged, kind=ACCESS, tenant_id=TENANT)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "frontdesk:web"},
        {"iss": "https://evil.example"},
        {"exp": 1},
        {"nbf": 4_000_000_000},
        {"tid": "not-a-uuid"},
    ],
    ids=["wrong_aud", "wrong_iss", "expired", "future_nbf", "bad_tenant_claim"],
)
async def test_bad_claims_signed_with_our_own_key_are_refused(
    runtime: Runtime, claims: dict
) -> None:
    """Even a correctly signed token is refused when a claim is wrong."""
    key = runtime.keyring.signing_key
    token = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1").token
    forged = _forge(token, claims=claims, key=key.private)
    with pytest.raises(InvalidToken):
        await runtime.tokens.verify(forged, kind=ACCESS, tenant_id=TENANT)


async def test_a_token_of_another_tenant_is_refused(runtime: Runtime) -> None:
    token = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1").token
    with pytest.raises(InvalidToken, match="another tenant"):
        await runtime.tokens.verify(token, kind=ACCESS, tenant_id=uuid.uuid4())


async def test_a_revoked_jti_is_refused_even_when_cached(runtime: Runtime) -> None:
    tenant = await make_tenant(runtime, with_pack=False)
    issued = runtime.tokens.issue(ACCESS, tenant_id=tenant.context.id, subject="key:1")
    await runtime.tokens.verify(issued.token, kind=ACCESS)
    async with runtime.db.session() as session:
        await revoke(session, tenant.context.id, issued.claims.jti, actor="test")
    with pytest.raises(InvalidToken, match="revoked"):
        await runtime.tokens.verify(issued.token, kind=ACCESS)


async def test_the_tenant_cutoff_refuses_older_tokens(runtime: Runtime) -> None:
    issued = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1")
    with pytest.raises(InvalidToken, match="cut-off"):
        await runtime.tokens.verify(
            issued.token, kind=ACCESS, tenant_id=TENANT, not_before=utcnow() + timedelta(seconds=1)
        )


async def test_rotation_keeps_old_tokens_valid_until_the_old_key_retires(runtime: Runtime) -> None:
    before = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1").token
    old_kid = runtime.keyring.signing_key.kid
    async with runtime.db.session() as session:
        new_kid = await signing.rotate(session, runtime.box)
    await runtime.keyring.load()
    assert runtime.keyring.signing_key.kid == new_kid != old_kid
    after = runtime.tokens.issue(ACCESS, tenant_id=TENANT, subject="key:1").token
    fresh = TokenService(runtime.keyring, issuer=runtime.settings.token_issuer)
    assert (await fresh.verify(before, kind=ACCESS)).subject == "key:1"
    assert (await fresh.verify(after, kind=ACCESS)).subject == "key:1"
    assert {k["kid"] for k in runtime.keyring.jwks()["keys"]} >= {old_kid, new_kid}

    async with runtime.db.session() as session:
        assert await signing.retire(session, old_kid)
    await runtime.keyring.load()
    with pytest.raises(InvalidToken):
        await TokenService(runtime.keyring, issuer=runtime.settings.token_issuer).verify(
            before, kind=ACCESS
        )
    assert old_kid not in {k["kid"] for k in runtime.keyring.jwks()["keys"]}
