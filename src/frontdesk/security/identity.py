"""Visitor identity for the web chat: the tenant's server vouches for a user id.

The tenant's server holds the tenant's ``identity`` secret (``whsec_…``; the whole string, as
UTF-8, is the key) and gives its page one of two proofs for the signed-in user:

* ``hmac``: ``hex(HMAC-SHA256(key=secret, msg=user_id))``, which never expires;
* ``jwt``: an HS256 token signed with the secret, with ``sub`` = the user id, ``iat``, and
  ``exp`` at most 24 hours ahead; its ``name`` and ``email`` claims enrich the contact.

Any active secret may match, so a rotation does not sign visitors out.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import jwt

from frontdesk.errors import Unauthorized

MAX_USER_ID_LENGTH = 255
MAX_PROOF_LENGTH = 4096
MAX_TOKEN_LIFETIME = timedelta(hours=24)
LEEWAY = timedelta(seconds=30)  # clock skew between the tenant's server and ours
ALGORITHM = "HS256"
PROFILE_CLAIMS: dict[str, int] = {"name": 200, "email": 320}  # claim -> longest value kept

_HEX_PROOF = re.compile(r"[0-9a-fA-F]{64}")

IdentityMethod = Literal["hmac", "jwt"]


class InvalidIdentity(Unauthorized):
    title = "Invalid identity"
    type_slug = "invalid-identity"


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """A user id the tenant vouched for, how, and the profile claims that came with it."""

    user_id: str
    method: IdentityMethod
    claims: dict[str, str] = field(default_factory=dict)


def hmac_proof(secret: str, user_id: str) -> str:
    """The ``hmac`` proof of ``user_id``: what the tenant's server computes (and our tests)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _verify_hmac(secrets: Sequence[str], user_id: str, proof: str) -> VerifiedIdentity:
    given = proof.lower()
    for secret in secrets:
        if hmac.compare_digest(hmac_proof(secret, user_id), given):
            return VerifiedIdentity(user_id=user_id, method="hmac")
    raise InvalidIdentity("the proof does not match")


def _decode(secret: str, proof: str) -> dict[str, Any] | None:
    """The token's claims if ``secret`` signed it, None if it did not; bad claims raise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            proof,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY,
            # The secret is shared with us alone, so an audience adds nothing: accept any.
            options={"require": ["exp", "iat", "sub"], "verify_aud": False},
        )
    except jwt.InvalidSignatureError:
        return None
    except jwt.ExpiredSignatureError:
        raise InvalidIdentity("the token has expired") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidIdentity(f"the token has no '{exc.claim}' claim") from None
    except jwt.ImmatureSignatureError:
        raise InvalidIdentity("the token is not valid yet") from None
    except jwt.PyJWTError:
        raise InvalidIdentity("the token is malformed") from None
    return claims


def _profile(claims: dict[str, Any]) -> dict[str, str]:
    profile: dict[str, str] = {}
    for name, longest in PROFILE_CLAIMS.items():
        value = claims.get(name)
        # Optional enrichment: an odd value is dropped rather than failing the proof.
        if isinstance(value, str) and value.strip() and len(value) <= longest:
            profile[name] = value.strip()
    return profile


def _verify_jwt(secrets: Sequence[str], user_id: str, proof: str) -> VerifiedIdentity:
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError:
        raise InvalidIdentity("the token is malformed") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidIdentity(f"only {ALGORITHM} tokens are accepted")
    for secret in secrets:
        claims = _decode(secret, proof)
        if claims is None:
            continue
        subject = claims["sub"]
        if not isinstance(subject, str) or not hmac.compare_digest(
            subject.encode(), user_id.encode()
        ):
            raise InvalidIdentity("the token is for another user")
        if float(claims["exp"]) > time.time() + (MAX_TOKEN_LIFETIME + LEEWAY).total_seconds():
            raise InvalidIdentity("the token expires more than 24 hours ahead")
        return VerifiedIdentity(user_id=user_id, method="jwt", claims=_profile(claims))
    raise InvalidIdentity("the proof does not match")


def verify_identity(secrets: Sequence[str], user_id: str, proof: str) -> VerifiedIdentity:
    """Check that the tenant (holding one of ``secrets``) vouches for ``user_id`` with ``proof``.

    ``proof`` is the 64-character hex HMAC or an HS256 JWT (no other algorithm, ``exp`` and
    ``iat`` required, ``exp`` at most 24 hours ahead). Raises ``InvalidIdentity`` with the reason.
    """
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidIdentity(f"a user id is 1 to {MAX_USER_ID_LENGTH} characters")
    if not proof or len(proof) > MAX_PROOF_LENGTH or not proof.isascii():
        raise InvalidIdentity(f"an identity proof is 1 to {MAX_PROOF_LENGTH} ASCII characters")
    try:
        user_id.encode()
    except UnicodeEncodeError:
        raise InvalidIdentity("the user id is not valid text") from None
    if _HEX_PROOF.fullmatch(proof):
        return _verify_hmac(secrets, user_id, proof)
    if proof.count(".") == 2:
        return _verify_jwt(secrets, user_id, proof)
    raise InvalidIdentity("the proof is neither an HMAC nor a token")
