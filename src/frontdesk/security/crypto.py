"""Secrets at rest: sealed with AES-256-GCM under a key derived from the instance secret."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"


class SealError(ValueError):
    """A sealed value that does not open: tampered, truncated, or sealed under another key."""


class SecretBox:
    """Seals short secrets (provider tokens, signing secrets, private keys) for the database.

    ``context`` binds a sealed value to its use (e.g. the row it belongs to): a value copied
    into another row does not open there.
    """

    def __init__(self, instance_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"frontdesk seal v1")
        self._aead = AESGCM(key.derive(instance_key))

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str, *, context: str = "") -> str:
        version, _, body = value.partition(".")
        if version != VERSION:
            raise SealError("unknown seal version")
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealError("the sealed value does not open") from exc
