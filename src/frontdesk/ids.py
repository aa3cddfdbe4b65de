"""Identifiers: UUIDv7, time-ordered (index-friendly) and not guessable (74 random bits)."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    """A fresh UUIDv7."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
