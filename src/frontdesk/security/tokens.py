"""Tenant Access Tokens and visitor tokens: short JWTs signed with the instance's ES256 keys.

Every check is explicit: the algorithm is pinned by the key (never read from the token), the
``typ`` header names the kind (an access token is never a visitor token), ``iss``, ``aud``,
``exp``, ``nbf``, ``iat``, ``jti`` and the tenant are required, a revoked ``jti`` or a token
issued before the tenant's cut-off is refused. Verified claims are cached by token hash until
they expire, so the signature is checked once per token, not once per request.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import Unauthorized
from frontdesk.ids import new_id
from frontdesk.realtime.invalidation import announce
from frontdesk.security.audit import record
from frontdesk.security.models import RevokedToken
from frontdesk.security.signing import Keyring
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database
from frontdesk.store.scope import bind_tenant, system_scope

JTI_TOPIC = "jti"
ACCESS = "at+jwt"
VISITOR = "visitor+jwt"
AUDIENCES = {ACCESS: "frontdesk:api", VISITOR: "frontdesk:web"}
ACCESS_TTL = timedelta(minutes=15)
VISITOR_TTL = timedelta(days=30)
MAX_TOKEN = 4096
CACHE_SIZE = 50_000
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
LEEWAY = 5


class InvalidToken(Unauthorized):
    title = "Invalid token"
    type_slug = "invalid-token"


@dataclass(frozen=True, slots=True)
class Claims:
    kind: str
    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]
    jti: str
    issued_at: datetime
    expires_at: datetime
    key_family: uuid.UUID | None = None
    user_id: str | None = None

    @property
    def contact_id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    claims: Claims


class Revocations:
    """Revoked ``jti``s still within their lifetime, held in memory on every instance."""

    def __init__(self) -> None:
        self._jtis: dict[str, datetime] = {}

    def __contains__(self, jti: str) -> bool:
        return jti in self._jtis

    def add(self, jti: str, expires_at: datetime | None = None) -> None:
        self._jtis[jti] = expires_at or utcnow() + VISITOR_TTL

    async def load(self, db: Database) -> None:
        async with db.session() as session, system_scope(session):
            rows = await session.execute(
                select(RevokedToken.jti, RevokedToken.expires_at).where(
                    RevokedToken.expires_at > utcnow()
                )
            )
            self._jtis = {jti: expires for jti, expires in rows.all()}  # noqa: C416


class TokenService:
    def __init__(self, keyring: Keyring, *, issuer: str) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self.revocations = Revocations()
        self._cache: OrderedDict[bytes, tuple[Claims, float]] = OrderedDict()
        """Verified claims by token hash, with their expiry as a timestamp."""

    def issue(
        self,
        kind: str,
        *,
        tenant_id: uuid.UUID,
        subject: str,
        scopes: Iterable[str] = (),
        ttl: timedelta | None = None,
        key_family: uuid.UUID | None = None,
        user_id: str | None = None,
    ) -> Issued:
        now = utcnow().replace(microsecond=0)
        expires = now + (ttl or (ACCESS_TTL if kind == ACCESS else VISITOR_TTL))
        key = self._keyring.signing_key
        assert key.private is not None  # noqa: S101 (the signing key always has one)
        claims = Claims(
            kind=kind,
            tenant_id=tenant_id,
            subject=subject,
            scopes=frozenset(scopes),
            jti=str(new_id()),
            issued_at=now,
            expires_at=expires,
            key_family=key_family,
            user_id=user_id,
        )
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": AUDIENCES[kind],
            "sub": subject,
            "tid": str(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": expires,
            "jti": claims.jti,
        }
        if claims.scopes:
            payload["scope"] = " ".join(sorted(claims.scopes))
        if key_family is not None:
            payload["kfam"] = str(key_family)
        if user_id is not None:
            payload["uid"] = user_id
        token = jwt.encode(
            payload, key.private, algorithm=key.alg, headers={"typ": kind, "kid": key.kid}
        )
        return Issued(token=token, claims=claims)

    async def verify(
        self,
        token: str,
        *,
        kind: str,
        tenant_id: uuid.UUID | None = None,
        not_before: datetime | None = None,
        session: AsyncSession | None = None,
    ) -> Claims:
        """The token's claims, or ``InvalidToken``; ``tenant_id`` and the tenant's cut-off
        ``not_before`` are checked when given (a token of another tenant is refused)."""
        if len(token) > MAX_TOKEN:
            raise InvalidToken("the token is too long")
        digest = hashlib.sha256(token.encode()).digest()
        known = self._cache.get(digest)
        now = time.time()
        if known is None or known[1] <= now:
            claims = await self._decode(token, kind, session)
            known = self._remember(digest, claims)
        claims = known[0]
        if claims.kind != kind:
            raise InvalidToken(f"not a {kind} token")
        if known[1] <= now:
            raise InvalidToken("the token has expired")
        if claims.jti in self.revocations:
            raise InvalidToken("the token has been revoked")
        if tenant_id is not None and claims.tenant_id.int != tenant_id.int:
            raise InvalidToken("the token belongs to another tenant")
        if not_before is not None and claims.issued_at < not_before:
            raise InvalidToken("the token was issued before the tenant's cut-off")
        return claims

    async def _decode(self, token: str, kind: str, session: AsyncSession | None) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is malformed") from exc
        if header.get("typ") != kind:
            raise InvalidToken(f"not a {kind} token")
        if FORBIDDEN_HEADERS.intersection(header):
            raise InvalidToken("the token carries key material or critical headers")
        kid = header.get("kid")
        key = (
            await self._keyring.verification_key(kid, session=session)
            if isinstance(kid, str)
            else None
        )
        if key is None:
            raise InvalidToken("the token's key is unknown")
        if header.get("alg") != key.alg:
            raise InvalidToken("the token's algorithm does not match its key")
        try:
            data = jwt.decode(
                token,
                key.public,
                algorithms=[key.alg],
                audience=AUDIENCES[kind],
                issuer=self._issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "tid"]},
            )
            family = data.get("kfam")
            scope = data.get("scope", "")
            user_id = data.get("uid")
            return Claims(
                kind=kind,
                tenant_id=uuid.UUID(str(data["tid"])),
                subject=str(data["sub"]),
                scopes=frozenset(str(scope).split()) if scope else frozenset(),
                jti=str(data["jti"])[:64],
                issued_at=datetime.fromtimestamp(int(data["iat"]), tz=utcnow().tzinfo),
                expires_at=datetime.fromtimestamp(int(data["exp"]), tz=utcnow().tzinfo),
                key_family=uuid.UUID(str(family)) if family else None,
                user_id=str(user_id)[:255] if user_id is not None else None,
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise InvalidToken("the token is invalid or expired") from exc

    def _remember(self, digest: bytes, claims: Claims) -> tuple[Claims, float]:
        known = self._cache[digest] = (claims, claims.expires_at.timestamp())
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return known


async def revoke(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    jti: str,
    *,
    expires_at: datetime | None = None,
    actor: str,
) -> None:
    """Refuse the token ``jti`` from now on (kept until it would have expired anyway).

    The caller announces the revocation to every instance once committed."""
    bind_tenant(session, tenant_id)
    session.add(
        RevokedToken(
            tenant_id=tenant_id, jti=jti[:64], expires_at=expires_at or utcnow() + VISITOR_TTL
        )
    )
    record(session, tenant_id, actor=actor, action="token.revoked", target=jti[:64])
    announce(session, JTI_TOPIC, jti[:64])
