"""Sealing secrets at rest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.security.crypto import SealError, SecretBox

BOX = SecretBox(b"instance-key-" + b"a" * 32)


@given(st.text(max_size=500), st.text(max_size=40))
def test_round_trip(secret: str, context: str) -> None:
    sealed = BOX.seal(secret, context=context)
    if len(secret) >= 8:
        assert secret not in sealed
    assert BOX.open(sealed, context=context) == secret


def test_sealing_twice_differs() -> None:
    assert BOX.seal("whsec_x") != BOX.seal("whsec_x")


@pytest.mark.parametrize("case", ["other_key", "other_context", "flipped", "truncated", "version"])
def test_refused(case: str) -> None:
    sealed = BOX.seal("sk_live_secret", context="row-1")
    box, context = BOX, "row-1"
    if case == "other_key":
        box = SecretBox(b"another-instance-key-" + b"b" * 32)
    elif case == "other_context":
        context = "row-2"
    elif case == "flipped":
        sealed = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    elif case == "truncated":
        sealed = sealed[:20]
    elif case == "version":
        sealed = "v9" + sealed[2:]
    with pytest.raises(SealError):
        box.open(sealed, context=context)
