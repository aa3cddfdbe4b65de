"""The instance's token signing keys: ES256, named by ``kid``, rotated without downtime.

The ``active`` key signs; after a rotation the previous one is ``verifying`` (it still verifies
the tokens it signed) until it is retired. Public keys are served as a JWKS.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import SigningKey
from frontdesk.store.base import utcnow
from frontdesk.store.db import Database

ALGORITHM = "ES256"
RELOAD_SECONDS = 60.0
UNKNOWN_KID_RELOAD_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class LoadedKey:
    kid: str
    alg: str
    private: ec.EllipticCurvePrivateKey | None
    public: ec.EllipticCurvePublicKey
    jwk: dict[str, Any]


def _new_key(box: SecretBox) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = secrets.token_urlsafe(12)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return SigningKey(
        kid=kid,
        alg=ALGORITHM,
        private_key=box.seal(pem, context=f"signing:{kid}"),
        public_jwk=jwk,
        status="active",
    )


async def rotate(session: AsyncSession, box: SecretBox) -> str:
    """Make a new active key; the current one only verifies from now on. Returns the new kid."""
    await session.execute(
        update(SigningKey).where(SigningKey.status == "active").values(status="verifying")
    )
    key = _new_key(box)
    session.add(key)
    await session.flush()
    return key.kid


async def retire(session: AsyncSession, kid: str) -> bool:
    """Stop verifying with ``kid`` (tokens it signed are refused from now on)."""
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.status == "verifying")
        .values(status="retired", retired_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


class Keyring:
    """The keys in memory: signing never touches the database; verification rarely does."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box
        self._keys: dict[str, LoadedKey] = {}
        self._active: LoadedKey | None = None
        self._loaded_at = 0.0

    async def load(self, session: AsyncSession | None = None) -> None:
        """Read the keys (creating the first one on a new instance) through ``session``, or a
        short session of its own."""
        if session is None:
            async with self._db.session() as own:
                return await self.load(own)
        rows = list(
            (
                await session.execute(
                    select(SigningKey).where(SigningKey.status.in_(("active", "verifying")))
                )
            ).scalars()
        )
        if not any(row.status == "active" for row in rows):
            row = _new_key(self._box)
            session.add(row)
            await session.flush()
            rows.append(row)
        keys: dict[str, LoadedKey] = {}
        active: LoadedKey | None = None
        for row in sorted(rows, key=lambda r: r.created_at):
            private = None
            if row.status == "active":
                pem = self._box.open(row.private_key, context=f"signing:{row.kid}")
                loaded = serialization.load_pem_private_key(pem.encode(), password=None)
                assert isinstance(loaded, ec.EllipticCurvePrivateKey)  # noqa: S101 (we wrote it)
                private = loaded
            public = ECAlgorithm.from_jwk(row.public_jwk)
            assert isinstance(public, ec.EllipticCurvePublicKey)  # noqa: S101 (we wrote it)
            key = LoadedKey(row.kid, row.alg, private, public, dict(row.public_jwk))
            keys[row.kid] = key
            if private is not None:
                active = key
        self._keys, self._active, self._loaded_at = keys, active, time.monotonic()

    @property
    def signing_key(self) -> LoadedKey:
        if self._active is None:
            raise RuntimeError("the keyring is not loaded")
        return self._active

    async def verification_key(
        self, kid: str, *, session: AsyncSession | None = None
    ) -> LoadedKey | None:
        key = self._keys.get(kid)
        age = time.monotonic() - self._loaded_at
        # Another instance may have rotated: reload on an unknown kid, but not on every request.
        if (key is None and age > UNKNOWN_KID_RELOAD_SECONDS) or age > RELOAD_SECONDS:
            await self.load(session)
            key = self._keys.get(kid)
        return key

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [key.jwk for key in self._keys.values()]}
