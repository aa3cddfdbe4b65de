"""Visitor identity: an HMAC of the user id or an HS256 token, from the tenant's server."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from frontdesk.errors import Unauthorized
from frontdesk.security.identity import (
    InvalidIdentity,
    VerifiedIdentity,
    hmac_proof,
    verify_identity,
)
from frontdesk.security.secrets import generate_secret

SECRET = generate_secret()
OLD_SECRET = generate_secret()
USER = "user-42"


def token(
    secret: Any = SECRET, algorithm: str = "HS256", *, without: str = "", **claims: Any
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": USER, "iat": now, "exp": now + 600}
    payload.update(claims)
    payload.pop(without, None)
    return jwt.encode(payload, secret, algorithm=algorithm)


def refused(proof: str, *, user_id: str = USER, secrets: list[str] | None = None) -> str:
    with pytest.raises(InvalidIdentity) as caught:
        verify_identity(secrets if secrets is not None else [SECRET], user_id, proof)
    assert SECRET not in caught.value.detail
    return caught.value.detail


def test_a_known_hmac_vector() -> None:
    # Computed independently: printf 'user-42' | openssl dgst -sha256 -hmac 'whsec_test'
    expected = "85eed557575f307689cbaea1a106d5be533f8dcf6be36699a1349862d2a65b77"
    assert hmac_proof("whsec_test", USER) == expected
    assert verify_identity(["whsec_test"], USER, expected).user_id == USER


def test_the_hmac_proof_verifies() -> None:
    proof = hmac_proof(SECRET, USER)
    assert verify_identity([SECRET], USER, proof) == VerifiedIdentity(USER, "hmac", {})
    assert verify_identity([SECRET], USER, proof.upper()).method == "hmac"


def test_the_token_proof_verifies_with_its_profile() -> None:
    proof = token(name="Ana Gómez", email="ana@example.com", role="admin")
    identity = verify_identity([SECRET], USER, proof)
    assert identity == VerifiedIdentity(
        USER, "jwt", {"name": "Ana Gómez", "email": "ana@example.com"}
    )


def test_odd_profile_claims_are_dropped_not_fatal() -> None:
    proof = token(name=["not", "a", "string"], email="x" * 400)
    assert verify_identity([SECRET], USER, proof).claims == {}


def test_a_token_with_an_audience_is_accepted() -> None:
    assert verify_identity([SECRET], USER, token(aud="acme")).method == "jwt"


@pytest.mark.parametrize("kind", ["hmac", "jwt"])
def test_any_active_secret_matches(kind: str) -> None:
    proof = hmac_proof(OLD_SECRET, USER) if kind == "hmac" else token(OLD_SECRET)
    assert verify_identity([SECRET, OLD_SECRET], USER, proof).method == kind
    assert "does not match" in refused(proof, secrets=[SECRET])


@pytest.mark.parametrize("kind", ["hmac", "jwt"])
def test_the_wrong_secret_is_refused(kind: str) -> None:
    other = generate_secret()
    proof = hmac_proof(other, USER) if kind == "hmac" else token(other)
    assert refused(proof) == "the proof does not match"


@pytest.mark.parametrize("kind", ["hmac", "jwt"])
def test_another_users_proof_is_refused(kind: str) -> None:
    proof = hmac_proof(SECRET, "user-43") if kind == "hmac" else token(sub="user-43")
    assert refused(proof) in {"the proof does not match", "the token is for another user"}


def test_no_secret_matches_nothing() -> None:
    assert refused(hmac_proof(SECRET, USER), secrets=[]) == "the proof does not match"
    assert refused(token(), secrets=[]) == "the proof does not match"


def test_alg_none_is_refused() -> None:
    unsigned = jwt.encode({"sub": USER, "iat": 1, "exp": 2**31}, "", algorithm="none")
    assert "only HS256" in refused(unsigned)
    # The same with a signature-looking tail.
    assert "only HS256" in refused(unsigned + "c2ln")


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "PS256"])
def test_public_key_algorithms_are_refused(algorithm: str) -> None:
    key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm.startswith("ES")
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    assert "only HS256" in refused(token(key, algorithm))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_refused(algorithm: str) -> None:
    assert "only HS256" in refused(token(SECRET, algorithm))


def test_an_expired_token_is_refused() -> None:
    now = int(time.time())
    assert refused(token(iat=now - 7200, exp=now - 3600)) == "the token has expired"


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_a_missing_claim_is_refused(claim: str) -> None:
    assert refused(token(without=claim)) == f"the token has no '{claim}' claim"


def test_a_far_future_expiry_is_refused() -> None:
    far = int(time.time()) + 25 * 3600
    assert "more than 24 hours" in refused(token(exp=far))
    # Up to 24 hours is fine.
    near = int(time.time()) + 23 * 3600
    assert verify_identity([SECRET], USER, token(exp=near)).method == "jwt"


def test_a_token_issued_in_the_future_is_refused() -> None:
    later = int(time.time()) + 3600
    assert "not valid yet" in refused(token(iat=later, exp=later + 60))


def test_a_non_string_subject_is_refused() -> None:
    assert refused(token(sub=42)) == "the token is malformed"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_token_is_refused() -> None:
    header, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["exp"] += 3600
    assert refused(f"{header}.{b64(claims)}.{signature}") == "the proof does not match"
    claims["sub"] = "admin"
    assert refused(f"{header}.{b64(claims)}.{signature}", user_id="admin") == (
        "the proof does not match"
    )
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert refused(f"{header}.{payload}.{flipped}") == "the proof does not match"


@pytest.mark.parametrize(
    ("user_id", "proof", "reason"),
    [
        ("", "a" * 64, "user id"),
        ("u" * 256, "a" * 64, "user id"),
        ("\ud800", "a" * 64, "user id"),
        (USER, "", "proof"),
        (USER, "a" * 4097, "proof"),
        (USER, "é" * 64, "proof"),
        (USER, "a" * 63, "neither"),
        (USER, "g" * 64, "neither"),
        (USER, "not.a.token", "malformed"),
        (USER, "a.b", "neither"),
    ],
)
def test_malformed_input_is_refused(user_id: str, proof: str, reason: str) -> None:
    assert reason in refused(proof, user_id=user_id)


def test_the_error_is_a_401_problem() -> None:
    error = InvalidIdentity("x")
    assert isinstance(error, Unauthorized)
    assert (error.status, error.type_slug) == (401, "invalid-identity")
