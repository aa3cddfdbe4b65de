"""Field types shared by the shapes that come in over HTTP."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no person types one: refuse it at the door (422)
    # rather than fail at the database (500).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string that can be stored: no NUL characters."""
