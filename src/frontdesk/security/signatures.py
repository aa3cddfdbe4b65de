"""Signed requests: Standard Webhooks (ours, both ways) and Meta's ``X-Hub-Signature-256``.

Standard Webhooks signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 under a
``whsec_<base64>`` secret and sends ``v1,<base64>`` signatures, space-separated, in
``webhook-signature``. What we send is signed by the ``standardwebhooks`` library. What we receive
is checked here with the same HMAC on each secret's key, decoded once per secret (the library
decodes it on every call, and works on text where the body arrives as bytes); this module parses
the headers strictly and boundedly, checks the timestamp against an injectable clock and
tolerance (the library's own ``verify`` has neither), and accepts any of several active secrets,
so a rotation never drops a request. Replays are refused with a ``ReplayGuard`` (``verify_once``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from starlette.datastructures import Headers

from frontdesk.errors import Forbidden, FrontDeskError, Unauthorized
from frontdesk.ids import new_id
from frontdesk.security.replay import ReplayGuard

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SIGNED_HEADERS = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
META_HEADER = "X-Hub-Signature-256"

DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_ID_LENGTH = 255
MAX_SIGNATURE_HEADER_LENGTH = 2000
MAX_TIMESTAMP_DIGITS = 15
MAX_CHALLENGE_LENGTH = 256

_ID = re.compile(r"[\x21-\x7e]+")  # visible ASCII: no spaces, no control characters
_META_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]+")  # echoed back, so nothing that could be markup
_RAW_HEADERS = {name.encode(): name for name in SIGNED_HEADERS}


class InvalidSignature(Unauthorized):
    title = "Invalid signature"
    type_slug = "invalid-signature"


class ReplayedMessage(InvalidSignature):
    """A correctly signed message whose id was already accepted (a replay or a late retry)."""

    title = "Replayed message"
    type_slug = "replayed-message"


class ChallengeRefused(Forbidden):
    title = "Verification refused"
    type_slug = "verification-refused"


class InvalidChallenge(FrontDeskError):
    title = "Invalid verification request"
    type_slug = "invalid-challenge"


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """What a verified request proved: its id (the replay key) and when it was signed."""

    msg_id: str
    timestamp: datetime


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except (binascii.Error, EmptyWebhookSecretError, ValueError) as exc:
        # A configuration error, not the caller's: never blame (or echo) the request for it.
        raise ValueError("a signing secret is not a valid whsec_ value") from exc


_BLOCK = 64  # SHA-256's block, in bytes
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


@dataclass(frozen=True, slots=True)
class _Key:
    """HMAC-SHA256 under one secret's key, its key schedule done once (RFC 2104): the inner and
    outer hashes have taken the padded key, and each message continues copies of them."""

    inner: hashlib._Hash
    outer: hashlib._Hash

    def digest(self, message: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@lru_cache(maxsize=1024)
def _key(secret: str) -> _Key:
    """The key of ``secret``, decoded as the library decodes it (the ``whsec_`` prefix and the
    padding optional), once per secret rather than once per request."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except ValueError:  # binascii.Error, or a non-ASCII value
        key = b""
    if not key:
        # A configuration error, not the caller's: never blame (or echo) the request for it.
        raise ValueError("a signing secret is not a valid whsec_ value")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return _Key(
        inner=hashlib.sha256(key.translate(_INNER_PAD)),
        outer=hashlib.sha256(key.translate(_OUTER_PAD)),
    )


def _text(body: bytes) -> str:
    # The library signs text; Standard Webhooks payloads are JSON, hence UTF-8.
    return body.decode("utf-8")


def sign_request(
    secret: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` (UTF-8) signed with ``secret``.

    ``msg_id`` defaults to a fresh ``msg_<uuid7>`` and ``timestamp`` to now; a given timestamp
    must be timezone-aware.
    """
    msg_id = msg_id if msg_id is not None else f"msg_{new_id().hex}"
    if not _ID.fullmatch(msg_id) or len(msg_id) > MAX_ID_LENGTH:
        raise ValueError(f"a message id is 1 to {MAX_ID_LENGTH} visible ASCII characters")
    when = timestamp if timestamp is not None else datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    # The library reads the timestamp as UTC wall time, so hand it UTC.
    when = when.astimezone(UTC)
    signature = _webhook(secret).sign(msg_id=msg_id, timestamp=when, data=_text(body))
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(math.floor(when.timestamp())),
        HEADER_SIGNATURE: signature,
    }


def _find_headers(headers: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    # Every occurrence, not get(): a multi-valued mapping (Starlette's Headers) lists a repeated
    # header twice, and two different values must not let one of them slip through unchecked.
    if isinstance(headers, Headers):
        # The request's own list: only the three values wanted are decoded (Latin-1, as
        # Starlette decodes them), not every header the request carries.
        for raw_name, raw_value in headers.raw:
            key = _RAW_HEADERS.get(raw_name.lower())
            if key is not None:
                value = raw_value.decode("latin-1")
                if found.setdefault(key, value) != value:
                    raise InvalidSignature(f"the {key} header is repeated")
    else:
        for name, value in headers.items():
            key = name.lower()
            if key in SIGNED_HEADERS and found.setdefault(key, value) != value:
                raise InvalidSignature(f"the {key} header is repeated")
    for key in SIGNED_HEADERS:
        if not found.get(key):
            raise InvalidSignature(f"missing {key} header")
    return found


def _parse_signatures(header: str) -> list[bytes]:
    if len(header) > MAX_SIGNATURE_HEADER_LENGTH:
        raise InvalidSignature(
            f"the {HEADER_SIGNATURE} header is longer than {MAX_SIGNATURE_HEADER_LENGTH} characters"
        )
    candidates: list[bytes] = []
    entries = header.split()
    if not entries:
        raise InvalidSignature(f"the {HEADER_SIGNATURE} header is malformed")
    for entry in entries:
        version, comma, value = entry.partition(",")
        if not comma or not version or not value:
            raise InvalidSignature(f"the {HEADER_SIGNATURE} header is malformed")
        if version != "v1":
            continue  # other schemes (e.g. v1a, asymmetric) are not ours to check
        try:
            decoded = binascii.a2b_base64(value)
        except ValueError:  # binascii.Error, or a non-ASCII value
            decoded = None
        # Canonical base64 only (what encodes back to the very same text): otherwise unused low
        # bits, or characters outside the alphabet, let one signature be written several ways.
        if decoded is None or binascii.b2a_base64(decoded, newline=False) != value.encode():
            raise InvalidSignature(f"the {HEADER_SIGNATURE} header is malformed")
        candidates.append(decoded)
    if not candidates:
        raise InvalidSignature(f"the {HEADER_SIGNATURE} header has no v1 signature")
    return candidates


def _check_timestamp(value: str, now: float, tolerance: timedelta) -> int:
    # ASCII digits only (str.isdigit alone takes other scripts' digits too), and few of them.
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_TIMESTAMP_DIGITS):
        raise InvalidSignature(f"the {HEADER_TIMESTAMP} header is not a Unix time in seconds")
    seconds = int(value)
    # Compared as numbers: a huge value would overflow a datetime.
    delta = seconds - now
    limit = tolerance.total_seconds()
    if delta < -limit:
        raise InvalidSignature("the message timestamp is too old")
    if delta > limit:
        raise InvalidSignature("the message timestamp is in the future")
    return seconds


def verify_request(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> SignedMessage:
    """Check a Standard Webhooks request against the active ``secrets`` (any one may match).

    Header names are case-insensitive. Raises ``InvalidSignature`` with the reason: a missing or
    malformed header, a timestamp more than ``tolerance`` away from ``now``, or no signature made
    with any of the secrets. This does not remember ids: use ``verify_once`` to refuse replays.
    """
    found = _find_headers(headers)
    msg_id = found[HEADER_ID]
    if len(msg_id) > MAX_ID_LENGTH:
        raise InvalidSignature(f"the {HEADER_ID} header is longer than {MAX_ID_LENGTH} characters")
    if not _ID.fullmatch(msg_id):
        raise InvalidSignature(f"the {HEADER_ID} header is malformed")
    candidates = _parse_signatures(found[HEADER_SIGNATURE])
    if now is not None and now.tzinfo is None:
        raise ValueError("naive datetime")
    clock = now.timestamp() if now is not None else time.time()
    seconds = _check_timestamp(found[HEADER_TIMESTAMP], clock, tolerance)
    timestamp = datetime.fromtimestamp(seconds, UTC)
    try:
        _text(body)
    except UnicodeDecodeError:
        raise InvalidSignature("the body is not UTF-8") from None
    # What the library signs, "{id}.{timestamp}.{body}" in UTF-8: the body as it arrived.
    content = f"{msg_id}.{seconds}.".encode() + body
    for secret in secrets:
        expected = _key(secret).digest(content)
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return SignedMessage(msg_id=msg_id, timestamp=timestamp)
    raise InvalidSignature("no signature matches")


def replay_ttl(tolerance: timedelta) -> timedelta:
    """How long an id must be remembered: a message signed up to ``tolerance`` in the future
    stays acceptable until ``tolerance`` after that, so twice the tolerance covers every case."""
    return 2 * tolerance


async def verify_once(
    guard: ReplayGuard,
    namespace: str,
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> SignedMessage:
    """``verify_request``, then accept its ``webhook-id`` once per ``namespace`` (e.g. the tenant).

    The id is claimed only after the signature checks out, so forged requests cannot use up ids.
    A second delivery of an accepted id raises ``ReplayedMessage`` (an ``InvalidSignature``).
    """
    message = verify_request(secrets, headers, body, tolerance=tolerance, now=now)
    if not await guard.first_use(namespace, message.msg_id, replay_ttl(tolerance)):
        raise ReplayedMessage("this message id was already received")
    return message


def verify_meta_signature(app_secret: str, header: str | None, body: bytes) -> None:
    """Check Meta's (and GitHub's) ``X-Hub-Signature-256: sha256=<hex>`` over the raw body."""
    if not app_secret:
        raise ValueError("the app secret is not configured")
    if not header:
        raise InvalidSignature(f"missing {META_HEADER} header")
    match = _META_SIGNATURE.fullmatch(header.strip()) if len(header) <= 100 else None
    if match is None:
        raise InvalidSignature(f"the {META_HEADER} header is malformed")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise InvalidSignature("the signature does not match")


def meta_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """Answer Meta's subscription handshake: the ``hub.challenge`` to echo (as text/plain).

    Raises ``ChallengeRefused`` (403) unless ``hub.mode`` is ``subscribe`` and
    ``hub.verify_token`` equals ``verify_token``, and ``InvalidChallenge`` (400) for a missing,
    overlong or unusual challenge.
    """
    if params.get("hub.mode") != "subscribe":
        raise ChallengeRefused("hub.mode must be subscribe")
    given = params.get("hub.verify_token") or ""
    # An unset token must not be matched by an empty one.
    if not verify_token or not hmac.compare_digest(
        given.encode(errors="surrogatepass"), verify_token.encode(errors="surrogatepass")
    ):
        raise ChallengeRefused("the verify token does not match")
    challenge = params.get("hub.challenge") or ""
    if len(challenge) > MAX_CHALLENGE_LENGTH or not _CHALLENGE.fullmatch(challenge):
        raise InvalidChallenge(
            f"hub.challenge must be 1 to {MAX_CHALLENGE_LENGTH} letters, digits or ._~-"
        )
    return challenge
