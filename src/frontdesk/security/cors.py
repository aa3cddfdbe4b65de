"""CORS per tenant from its allowed origins, and the security headers of every response.

An origin is allowed only by an exact match of scheme, host and port with one the tenant
configured, after both are normalised the way browsers serialise origins (lower case, default
port dropped, international hosts in punycode). No wildcard, suffix or prefix matching, and
``Access-Control-Allow-Origin`` only ever carries a configured origin. Credentials (cookies) are
not used — tokens travel in headers — so ``Access-Control-Allow-Credentials`` is never sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv6Address

import idna

Headers = list[tuple[bytes, bytes]]

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_METHODS = ("GET", "POST", "OPTIONS")
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-frontdesk-key",
    "last-event-id",
    "x-request-id",
    "idempotency-key",
)
EXPOSED_HEADERS = (
    "x-request-id",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
)
MAX_AGE = 600

VARY_ORIGIN = (b"vary", b"Origin")
"""For every response of a CORS-governed route, allowed or not: caches must key on Origin."""

_MAX_ORIGIN = 300
_FORBIDDEN = frozenset("/?#@\\*%,;\"'<>`^{}|[]")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NONCE = re.compile(r"[A-Za-z0-9+/_-]{8,128}={0,2}")

_ALLOWED_METHODS = frozenset(ALLOWED_METHODS)
_ALLOWED_HEADERS = frozenset(ALLOWED_HEADERS)
_ACAO = b"access-control-allow-origin"
_PREFLIGHT_TAIL: Headers = [
    (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
    (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
    (b"access-control-max-age", str(MAX_AGE).encode()),
]
_EXPOSE = (b"access-control-expose-headers", ", ".join(EXPOSED_HEADERS).encode())


def _host(text: str) -> str | None:
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    text = text.lower()
    if len(text) > 253 or not _HOST.fullmatch(text):
        return None
    for label in text.split("."):
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return None
    return text


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` as a browser serialises it, or None if ``value`` is no origin.

    Only http and https; lower case; the default port dropped; an international host in punycode;
    an IPv6 host in brackets. None for ``null``, wildcards, userinfo, a path (a lone trailing
    ``/`` is tolerated), a query, a fragment, whitespace or anything unparseable.
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_ORIGIN:
        return None
    scheme, separator, rest = value.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        return None
    rest = rest.removesuffix("/")
    if not rest or not rest.isprintable() or any(c.isspace() for c in rest):
        return None
    port = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        literal, after = rest[1:end], rest[end + 1 :]
        if after:
            if after[0] != ":" or not after[1:]:
                return None
            port = after[1:]
        if _FORBIDDEN.intersection(literal):
            return None
        try:
            host: str | None = f"[{IPv6Address(literal).compressed}]"
        except ValueError:
            return None
    else:
        if _FORBIDDEN.intersection(rest):
            return None
        text, colon, port = rest.partition(":")
        if colon and not port:
            return None
        host = _host(text)
    if host is None:
        return None
    if port:
        if not (port.isascii() and port.isdigit()) or len(port) > 5:
            return None
        number = int(port)
        if not 0 < number < 65536:
            return None
        if number != DEFAULT_PORTS[scheme]:
            return f"{scheme}://{host}:{number}"
    return f"{scheme}://{host}"


class CorsPolicy:
    """One tenant's CORS: which origins may call it, and the headers to answer them with."""

    __slots__ = ("_actual", "_origins", "_preflight")

    def __init__(self, origins: Iterable[str]) -> None:
        """Validates and normalises ``origins``; ``ValueError`` names the first invalid one."""
        normalized: list[str] = []
        for origin in origins:
            clean = normalize_origin(origin)
            if clean is None:
                raise ValueError(f"{origin!r} is not an origin (http(s)://host[:port])")
            normalized.append(clean)
        self._origins = frozenset(normalized)
        self._actual: dict[str, Headers] = {
            origin: [(_ACAO, origin.encode()), _EXPOSE] for origin in self._origins
        }
        self._preflight: dict[str, Headers] = {
            origin: [(_ACAO, origin.encode()), *_PREFLIGHT_TAIL] for origin in self._origins
        }

    @property
    def origins(self) -> frozenset[str]:
        """The allowed origins, normalised."""
        return self._origins

    def allowed_origin(self, origin_header: str | None) -> str | None:
        """The configured origin that ``origin_header`` names, or None if it is not allowed."""
        if not origin_header or not self._origins:
            return None
        if origin_header in self._origins:
            return origin_header
        clean = normalize_origin(origin_header)
        return clean if clean in self._origins else None

    def allows(self, origin_header: str | None) -> bool:
        """Whether a request with this ``Origin`` header may read the response."""
        return self.allowed_origin(origin_header) is not None

    def preflight(
        self, origin: str | None, request_method: str | None, request_headers: str | None
    ) -> Headers | None:
        """The answer to an ``OPTIONS`` preflight, or None to refuse it.

        ``request_method`` and ``request_headers`` are the ``Access-Control-Request-Method`` and
        ``Access-Control-Request-Headers`` values. Refused: an origin not allowed, a method other
        than GET/POST/OPTIONS, or any requested header outside the allowlist.
        """
        allowed = self.allowed_origin(origin)
        if allowed is None or request_method is None:
            return None
        if request_method.strip() not in _ALLOWED_METHODS:
            return None
        if request_headers:
            for name in request_headers.split(","):
                name = name.strip().lower()
                if name and name not in _ALLOWED_HEADERS:
                    return None
        return list(self._preflight[allowed])

    def actual(self, origin: str | None) -> Headers:
        """CORS headers for a response to ``origin``: none at all unless the origin is allowed."""
        allowed = self.allowed_origin(origin)
        return list(self._actual[allowed]) if allowed is not None else []


_COMMON: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


def _html_csp(script_nonce: str | None) -> tuple[bytes, bytes]:
    script = f"'self' 'nonce-{script_nonce}'" if script_nonce else "'self'"
    policy = (
        f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return (b"content-security-policy", policy.encode())


def security_headers(
    *, html: bool, tls: bool, script_nonce: str | None = None
) -> list[tuple[bytes, bytes]]:
    """Headers for every response: no sniffing, no framing, a strict referrer policy, a CSP.

    HTML gets a strict CSP whose scripts are this origin's and those carrying ``script_nonce``;
    anything else gets ``default-src 'none'``, since an API response is never a document.
    ``Strict-Transport-Security`` only over TLS (browsers ignore it over plain HTTP anyway).
    Raises ``ValueError`` if ``script_nonce`` is not a base64 token of 8 to 128 characters.
    """
    if script_nonce is not None and not _NONCE.fullmatch(script_nonce):
        raise ValueError("the script nonce must be a base64 token")
    headers = [*_COMMON, _html_csp(script_nonce) if html else _API_CSP]
    if tls:
        headers.append(_HSTS)
    return headers
