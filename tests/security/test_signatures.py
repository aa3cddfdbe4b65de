"""Signed requests: the Standard Webhooks vectors and their refusals, and Meta's scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from frontdesk.errors import Forbidden, FrontDeskError, Unauthorized
from frontdesk.security.replay import MemoryReplayGuard
from frontdesk.security.secrets import generate_secret
from frontdesk.security.signatures import (
    ChallengeRefused,
    InvalidChallenge,
    InvalidSignature,
    ReplayedMessage,
    SignedMessage,
    meta_challenge,
    sign_request,
    verify_meta_signature,
    verify_once,
    verify_request,
)

# The example of the Standard Webhooks specification and its reference libraries' tests.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SIGNED_AT = datetime.fromtimestamp(TIMESTAMP, UTC)
# Signatures the reference libraries' tests use as wrong ones.
WRONG_SIGNATURES = [
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
]

# GitHub's documented example of X-Hub-Signature-256 (the scheme Meta uses too).
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def vector_headers(**changes: str) -> dict[str, str]:
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
    }
    headers.update({name.replace("_", "-"): value for name, value in changes.items()})
    return headers


def refused(
    headers: dict[str, str] | Headers,
    body: bytes = PAYLOAD,
    *,
    secrets: list[str] | None = None,
    now: datetime = SIGNED_AT,
) -> str:
    """The reason a request is refused, checked to reveal neither secret nor signature."""
    with pytest.raises(InvalidSignature) as caught:
        verify_request(secrets or [SECRET], headers, body, now=now)
    detail = caught.value.detail
    assert SECRET not in detail
    assert SECRET.removeprefix("whsec_") not in detail
    assert SIGNATURE.removeprefix("v1,") not in detail
    return detail


def test_the_spec_example_signs_to_its_signature() -> None:
    headers = sign_request(SECRET, PAYLOAD, msg_id=MSG_ID, timestamp=SIGNED_AT)
    assert headers == vector_headers()


@pytest.mark.parametrize("hours", [-5, 0, 2])
def test_a_timestamp_in_another_zone_signs_the_same(hours: int) -> None:
    when = SIGNED_AT.astimezone(timezone(timedelta(hours=hours)))
    assert sign_request(SECRET, PAYLOAD, msg_id=MSG_ID, timestamp=when) == vector_headers()


@pytest.mark.parametrize("secret", [SECRET, SECRET.removeprefix("whsec_")])
def test_the_spec_example_verifies(secret: str) -> None:
    message = verify_request([secret], vector_headers(), PAYLOAD, now=SIGNED_AT)
    assert message == SignedMessage(msg_id=MSG_ID, timestamp=SIGNED_AT)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in vector_headers().items()}
    assert verify_request([SECRET], headers, PAYLOAD, now=SIGNED_AT).msg_id == MSG_ID
    starlette = Headers(raw=[(k.encode(), v.encode()) for k, v in headers.items()])
    assert verify_request([SECRET], starlette, PAYLOAD, now=SIGNED_AT).msg_id == MSG_ID


def test_a_repeated_header_with_another_value_is_refused() -> None:
    raw = [(k.encode(), v.encode()) for k, v in vector_headers().items()]
    raw.append((b"webhook-id", b"msg_other"))
    assert "repeated" in refused(Headers(raw=raw))


def test_the_tolerance_is_inclusive_and_configurable() -> None:
    tolerance = timedelta(minutes=5)
    for now in (SIGNED_AT - tolerance, SIGNED_AT + tolerance):
        assert verify_request([SECRET], vector_headers(), PAYLOAD, now=now).msg_id == MSG_ID
    wider = SIGNED_AT + timedelta(hours=1)
    verify_request([SECRET], vector_headers(), PAYLOAD, now=wider, tolerance=timedelta(hours=1))


def test_the_real_clock_is_used_by_default() -> None:
    body = b'{"event": "ping"}'
    message = verify_request([SECRET], sign_request(SECRET, body), body)
    assert message.msg_id.startswith("msg_")
    assert abs(message.timestamp - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_request([SECRET], vector_headers(), PAYLOAD)


def test_tampered_body_is_refused() -> None:
    assert refused(vector_headers(), b'{"test": 2432232315}') == "no signature matches"


def test_another_secret_is_refused() -> None:
    assert refused(vector_headers(), secrets=[generate_secret()]) == "no signature matches"


def test_no_active_secret_matches_nothing() -> None:
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify_request([], vector_headers(), PAYLOAD, now=SIGNED_AT)


@pytest.mark.parametrize("signature", WRONG_SIGNATURES)
def test_the_reference_wrong_signatures_are_refused(signature: str) -> None:
    assert refused(vector_headers(webhook_signature=signature)) == "no signature matches"


def test_stale_timestamp_is_refused() -> None:
    late = SIGNED_AT + timedelta(minutes=5, seconds=1)
    assert refused(vector_headers(), now=late) == "the message timestamp is too old"


def test_future_timestamp_is_refused() -> None:
    early = SIGNED_AT - timedelta(minutes=5, seconds=1)
    assert refused(vector_headers(), now=early) == "the message timestamp is in the future"


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_a_missing_header_is_refused(header: str, how: str) -> None:
    headers = vector_headers()
    if how == "absent":
        del headers[header]
    else:
        headers[header] = ""
    assert refused(headers) == f"missing {header} header"


@pytest.mark.parametrize(
    "signature",
    [
        "v1",
        "v1,",
        ",abc=",
        "   ",
        "v1,g0hM9",  # a partial signature
        "v1,dawfeoifkpqwoekfpqoekf",  # not base64
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",  # non-canonical: unused bits set
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",  # unpadded
        "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # urlsafe alphabet
        "v1,é",
        f"{SIGNATURE} v1",
    ],
)
def test_a_malformed_signature_header_is_refused(signature: str) -> None:
    reason = refused(vector_headers(webhook_signature=signature))
    assert reason in {
        "the webhook-signature header is malformed",
        "missing webhook-signature header",
    }


def test_only_other_schemes_is_refused() -> None:
    other = SIGNATURE.replace("v1,", "v1a,")
    assert "no v1 signature" in refused(vector_headers(webhook_signature=other))


@pytest.mark.parametrize(
    "timestamp", ["hello", "1614265330.0", "-1614265330", "1e9", " 1614265330", "9" * 40, "١٦"]
)
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    assert "not a Unix time" in refused(vector_headers(webhook_timestamp=timestamp))


@pytest.mark.parametrize("msg_id", ["msg with space", "msg\tid", "msg_é", "m" * 256])
def test_a_malformed_or_long_id_is_refused(msg_id: str) -> None:
    assert "webhook-id" in refused(vector_headers(webhook_id=msg_id))


def test_a_long_signature_header_is_refused() -> None:
    many = " ".join([WRONG_SIGNATURES[0]] * 50)
    assert "longer than 2000" in refused(vector_headers(webhook_signature=many))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    assert refused(vector_headers(), b"\xff\xfe") == "the body is not UTF-8"


def test_one_valid_signature_among_several_is_enough() -> None:
    many = " ".join(
        [
            WRONG_SIGNATURES[0],
            WRONG_SIGNATURES[0].replace("v1,", "v2,"),
            SIGNATURE,
            WRONG_SIGNATURES[1],
        ]
    )
    headers = vector_headers(webhook_signature=many)
    assert verify_request([SECRET], headers, PAYLOAD, now=SIGNED_AT).msg_id == MSG_ID


def test_rotation_accepts_the_old_and_the_new_secret() -> None:
    old, new = generate_secret(), generate_secret()
    body = b'{"rotated": true}'
    for signer in (old, new):
        headers = sign_request(signer, body, timestamp=SIGNED_AT)
        verify_request([new, old], headers, body, now=SIGNED_AT)
    # A sender mid-rotation may sign with both; each receiver finds its own.
    both = sign_request(old, body, msg_id="msg_1", timestamp=SIGNED_AT)
    both["webhook-signature"] += (
        " " + sign_request(new, body, msg_id="msg_1", timestamp=SIGNED_AT)["webhook-signature"]
    )
    verify_request([new], both, body, now=SIGNED_AT)
    verify_request([old], both, body, now=SIGNED_AT)
    with pytest.raises(InvalidSignature):
        verify_request([generate_secret()], both, body, now=SIGNED_AT)


async def test_a_replayed_message_is_refused() -> None:
    guard = MemoryReplayGuard()
    await verify_once(guard, "tenant-a", [SECRET], vector_headers(), PAYLOAD, now=SIGNED_AT)
    with pytest.raises(ReplayedMessage) as caught:
        await verify_once(guard, "tenant-a", [SECRET], vector_headers(), PAYLOAD, now=SIGNED_AT)
    assert isinstance(caught.value, InvalidSignature)
    # Another namespace (tenant) keeps its own ids.
    await verify_once(guard, "tenant-b", [SECRET], vector_headers(), PAYLOAD, now=SIGNED_AT)


async def test_a_forged_request_does_not_use_up_its_id() -> None:
    guard = MemoryReplayGuard()
    forged = vector_headers(webhook_signature=WRONG_SIGNATURES[0])
    with pytest.raises(InvalidSignature):
        await verify_once(guard, "tenant-a", [SECRET], forged, PAYLOAD, now=SIGNED_AT)
    await verify_once(guard, "tenant-a", [SECRET], vector_headers(), PAYLOAD, now=SIGNED_AT)


def test_the_error_is_a_401_problem() -> None:
    error = InvalidSignature("x")
    assert isinstance(error, Unauthorized)
    assert (error.status, error.title, error.type_slug) == (
        401,
        "Invalid signature",
        "invalid-signature",
    )


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"timestamp": datetime(2021, 2, 26, 12, 0)}, "naive"),
        ({"msg_id": ""}, "message id"),
        ({"msg_id": "a b"}, "message id"),
        ({"msg_id": "m" * 256}, "message id"),
    ],
)
def test_signing_refuses_bad_arguments(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        sign_request(SECRET, PAYLOAD, **kwargs)  # type: ignore[arg-type]


def test_signing_needs_a_utf8_body_and_a_valid_secret() -> None:
    with pytest.raises(UnicodeDecodeError):
        sign_request(SECRET, b"\xff")
    with pytest.raises(ValueError, match="not a valid whsec_ value"):
        sign_request("whsec_", PAYLOAD)


@given(body=st.text(max_size=2000).map(str.encode))
def test_any_signed_body_verifies(body: bytes) -> None:
    headers = sign_request(SECRET, body, timestamp=SIGNED_AT)
    assert verify_request([SECRET], headers, body, now=SIGNED_AT).timestamp == SIGNED_AT


@given(key=st.binary(min_size=1, max_size=200), body=st.text(max_size=500).map(str.encode))
def test_any_key_verifies_what_hmac_signs(key: bytes, body: bytes) -> None:
    """Each secret's key is decoded and scheduled once: whatever its length (past SHA-256's
    64-byte block too) and however it is written, a request signed with the standard library's
    HMAC-SHA256 over "{id}.{timestamp}.{body}" verifies, and one signed with another key not."""
    encoded = base64.b64encode(key).decode()
    digest = hmac.new(key, f"{MSG_ID}.{TIMESTAMP}.".encode() + body, hashlib.sha256).digest()
    headers = vector_headers(webhook_signature="v1," + base64.b64encode(digest).decode())
    for secret in (f"whsec_{encoded}", encoded, f"whsec_{encoded.rstrip('=')}"):
        assert verify_request([secret], headers, body, now=SIGNED_AT).msg_id == MSG_ID
    other = base64.b64encode(bytes([key[0] ^ 1]) + key[1:]).decode()
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify_request([other], headers, body, now=SIGNED_AT)


@given(key=st.binary(min_size=1, max_size=100), body=st.text(max_size=500).map(str.encode))
def test_the_library_and_the_check_agree_on_any_secret(key: bytes, body: bytes) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    headers = sign_request(secret, body, timestamp=SIGNED_AT)
    assert verify_request([secret], headers, body, now=SIGNED_AT).timestamp == SIGNED_AT


def flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@given(data=st.data(), body=st.text(min_size=1, max_size=500).map(str.encode))
def test_any_bit_flip_in_the_body_fails(data: st.DataObject, body: bytes) -> None:
    headers = sign_request(SECRET, body, timestamp=SIGNED_AT)
    bit = data.draw(st.integers(0, len(body) * 8 - 1))
    with pytest.raises(InvalidSignature):
        verify_request([SECRET], headers, flip(body, bit), now=SIGNED_AT)


@given(data=st.data(), body=st.text(max_size=200).map(str.encode))
def test_any_bit_flip_in_the_signature_fails(data: st.DataObject, body: bytes) -> None:
    headers = sign_request(SECRET, body, timestamp=SIGNED_AT)
    signature = headers["webhook-signature"]
    if data.draw(st.booleans()):
        # A flip of the signature's bytes, written back as valid base64.
        raw = base64.b64decode(signature.removeprefix("v1,"))
        bit = data.draw(st.integers(0, len(raw) * 8 - 1))
        changed = "v1," + base64.b64encode(flip(raw, bit)).decode()
    else:
        # A flip of any character of the header as sent (within ASCII).
        index = data.draw(st.integers(0, len(signature) - 1))
        bit = data.draw(st.integers(0, 6))
        char = chr(ord(signature[index]) ^ (1 << bit))
        changed = signature[:index] + char + signature[index + 1 :]
    headers["webhook-signature"] = changed
    with pytest.raises(InvalidSignature):
        verify_request([SECRET], headers, body, now=SIGNED_AT)


# Meta's (and GitHub's) X-Hub-Signature-256.


@pytest.mark.parametrize(
    "header", [GITHUB_SIGNATURE, GITHUB_SIGNATURE.upper().replace("SHA", "sha")]
)
def test_the_github_example_verifies(header: str) -> None:
    verify_meta_signature(GITHUB_SECRET, header, GITHUB_PAYLOAD)


@pytest.mark.parametrize(
    ("secret", "header", "body", "reason"),
    [
        ("another secret", GITHUB_SIGNATURE, GITHUB_PAYLOAD, "does not match"),
        (GITHUB_SECRET, GITHUB_SIGNATURE, b"Hello, World?", "does not match"),
        (GITHUB_SECRET, GITHUB_SIGNATURE[:-1] + "f", GITHUB_PAYLOAD, "does not match"),
        (GITHUB_SECRET, None, GITHUB_PAYLOAD, "missing"),
        (GITHUB_SECRET, "", GITHUB_PAYLOAD, "missing"),
        (GITHUB_SECRET, GITHUB_SIGNATURE[:-1], GITHUB_PAYLOAD, "malformed"),
        (GITHUB_SECRET, GITHUB_SIGNATURE.replace("sha256", "sha1"), GITHUB_PAYLOAD, "malformed"),
        (GITHUB_SECRET, GITHUB_SIGNATURE + "0" * 500, GITHUB_PAYLOAD, "malformed"),
        (GITHUB_SECRET, GITHUB_SIGNATURE.removeprefix("sha256="), GITHUB_PAYLOAD, "malformed"),
    ],
)
def test_meta_signatures_are_refused(
    secret: str, header: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidSignature, match=reason) as caught:
        verify_meta_signature(secret, header, body)
    assert GITHUB_SIGNATURE.removeprefix("sha256=") not in caught.value.detail
    assert secret not in caught.value.detail


def test_meta_needs_an_app_secret() -> None:
    with pytest.raises(ValueError, match="not configured"):
        verify_meta_signature("", GITHUB_SIGNATURE, GITHUB_PAYLOAD)


def handshake(**changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "hub.mode": "subscribe",
        "hub.verify_token": "token-1",
        "hub.challenge": "1158201444",
    }
    params.update({name.replace("_", ".", 1): value for name, value in changes.items()})
    return {name: value for name, value in params.items() if value is not None}


def test_the_meta_handshake_returns_the_challenge() -> None:
    assert meta_challenge(handshake(), "token-1") == "1158201444"


@pytest.mark.parametrize(
    ("params", "token"),
    [
        (handshake(hub_mode="unsubscribe"), "token-1"),
        (handshake(hub_mode=None), "token-1"),
        (handshake(hub_verify_token="token-2"), "token-1"),
        (handshake(hub_verify_token=None), "token-1"),
        (handshake(hub_verify_token="tökén"), "token-1"),
        (handshake(hub_verify_token=""), ""),
        (handshake(hub_verify_token=None), ""),
    ],
)
def test_the_meta_handshake_is_refused(params: dict[str, str], token: str) -> None:
    with pytest.raises(ChallengeRefused) as caught:
        meta_challenge(params, token)
    assert isinstance(caught.value, Forbidden)
    assert caught.value.status == 403


@pytest.mark.parametrize("challenge", [None, "", "<script>", "a b", "9" * 257])
def test_a_bad_challenge_is_refused(challenge: str | None) -> None:
    with pytest.raises(InvalidChallenge) as caught:
        meta_challenge(handshake(hub_challenge=challenge), "token-1")
    assert isinstance(caught.value, FrontDeskError)
    assert caught.value.status == 400
