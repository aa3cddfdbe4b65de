"""CORS per tenant: exact origins only, never echoing an origin that was not configured."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.security.cors import (
    ALLOWED_HEADERS,
    VARY_ORIGIN,
    CorsPolicy,
    normalize_origin,
    security_headers,
)

SITE = "https://colombiatic.com"
POLICY = CorsPolicy([SITE, "http://localhost:3000", "https://bücher.example"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://colombiatic.com", SITE),
        ("HTTPS://ColombiaTIC.COM", SITE),
        ("https://colombiatic.com/", SITE),
        ("https://colombiatic.com:443", SITE),
        ("http://colombiatic.com:80", "http://colombiatic.com"),
        ("https://colombiatic.com:8443", "https://colombiatic.com:8443"),
        ("http://colombiatic.com:443", "http://colombiatic.com:443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://BÜCHER.example", "https://xn--bcher-kva.example"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://ｃｏｌｏｍｂｉａｔｉｃ.com", SITE),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[0:0::1]", "http://[::1]"),
        ("https://app_1.colombiatic.com", "https://app_1.colombiatic.com"),
    ],
)
def test_normalize(value: str, expected: str) -> None:
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "null",
        "NULL",
        "",
        "colombiatic.com",
        "//colombiatic.com",
        "ftp://colombiatic.com",
        "javascript://colombiatic.com",
        "https://",
        "https://*.colombiatic.com",
        "*",
        "https://colombiatic.com/app",
        "https://colombiatic.com//",
        "https://colombiatic.com?x=1",
        "https://colombiatic.com#top",
        "https://colombiatic.com@evil.com",
        "https://user:pass@colombiatic.com",
        "https://colombiatic.com%2eevil.com",
        "https://colombiatic.com\\@evil.com",
        " https://colombiatic.com",
        "https://colombiatic.com ",
        "https://colombia tic.com",
        "https://colombiatic.com\n",
        "https://colombiatic.com\x00",
        "https://colombiatic.com.",
        "https://-colombiatic.com",
        "https://colombiatic..com",
        "https://colombiatic.com:",
        "https://colombiatic.com:0",
        "https://colombiatic.com:65536",
        "https://colombiatic.com:+443",
        "https://colombiatic.com:44a",
        "https://colombiatic.com:443:443",
        "https://colombiatic.com, https://evil.com",
        "https://xn--zz.com",
        "https://[::1",
        "https://[::1]x",
        "https://[fe80::1%25eth0]",
        "https://[not-v6]",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_normalize_refuses(value: str) -> None:
    assert normalize_origin(value) is None


@pytest.mark.parametrize(
    "origin",
    [
        "https://colombiatic.com.evil.com",
        "https://evilcolombiatic.com",
        "https://colombiatic.co",
        "https://sub.colombiatic.com",
        "http://colombiatic.com",  # downgrade
        "https://colombiatic.com:8443",  # port mismatch
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost",
        "https://colombiatic.com@evil.com",
        "https://evil.com#@colombiatic.com",
        "https://evil.com/https://colombiatic.com",
        "null",
        "",
        None,
        "https://bucher.example",
    ],
)
def test_refused_origins(origin: str | None) -> None:
    assert not POLICY.allows(origin)
    assert POLICY.actual(origin) == []
    assert POLICY.preflight(origin, "POST", "content-type") is None


@pytest.mark.parametrize(
    ("origin", "echoed"),
    [
        (SITE, SITE),
        ("https://COLOMBIATIC.com", SITE),
        ("https://colombiatic.com/", SITE),
        ("https://colombiatic.com:443", SITE),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_allowed_origins_echo_the_configured_origin(origin: str, echoed: str) -> None:
    assert POLICY.allows(origin)
    headers = dict(POLICY.actual(origin))
    assert headers[b"access-control-allow-origin"] == echoed.encode()
    exposed = headers[b"access-control-expose-headers"].decode().split(", ")
    assert set(exposed) == {
        "x-request-id",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    }
    assert b"access-control-allow-credentials" not in headers


def test_preflight() -> None:
    headers = POLICY.preflight(SITE, "POST", "Content-Type, X-FrontDesk-Key,authorization")
    assert headers is not None
    found = dict(headers)
    assert found[b"access-control-allow-origin"] == SITE.encode()
    assert found[b"access-control-allow-methods"] == b"GET, POST, OPTIONS"
    assert set(found[b"access-control-allow-headers"].decode().split(", ")) == set(ALLOWED_HEADERS)
    assert found[b"access-control-max-age"] == b"600"
    assert b"access-control-allow-credentials" not in found
    assert POLICY.preflight(SITE, "GET", None) is not None
    assert POLICY.preflight(SITE, "GET", "") is not None


@pytest.mark.parametrize(
    ("method", "request_headers"),
    [
        ("DELETE", None),
        ("PUT", "content-type"),
        ("post", None),
        (None, None),
        ("POST", "content-type, x-evil"),
        ("POST", "cookie"),
    ],
)
def test_preflight_refused(method: str | None, request_headers: str | None) -> None:
    assert POLICY.preflight(SITE, method, request_headers) is None


def test_returned_lists_are_fresh() -> None:
    first = POLICY.actual(SITE)
    first.append((b"x", b"y"))
    assert (b"x", b"y") not in POLICY.actual(SITE)


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="not an origin"):
        CorsPolicy([SITE, "https://*.colombiatic.com"])
    with pytest.raises(ValueError, match="not an origin"):
        CorsPolicy(["null"])
    assert CorsPolicy([SITE, "https://COLOMBIATIC.com/"]).origins == {SITE}
    assert not CorsPolicy([]).allows(SITE)


def test_vary_origin() -> None:
    assert VARY_ORIGIN == (b"vary", b"Origin")


@given(st.text(max_size=80) | st.from_regex(r"https?://[a-z0-9.:\[\]@*/-]{0,40}", fullmatch=True))
def test_an_origin_never_allowed_is_never_echoed(origin: str) -> None:
    echoed = [v for k, v in POLICY.actual(origin) if k == b"access-control-allow-origin"]
    preflight = POLICY.preflight(origin, "GET", None) or []
    echoed += [v for k, v in preflight if k == b"access-control-allow-origin"]
    if POLICY.allows(origin):
        assert normalize_origin(origin) in POLICY.origins
    else:
        assert echoed == []
    assert all(value.decode() in POLICY.origins for value in echoed)


@given(
    st.from_regex(r"https?://[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}(:[0-9]{1,5})?", fullmatch=True)
)
def test_normalizing_is_idempotent(origin: str) -> None:
    clean = normalize_origin(origin)
    if clean is not None:
        assert normalize_origin(clean) == clean


def test_security_headers() -> None:
    api = dict(security_headers(html=False, tls=False))
    assert api[b"x-content-type-options"] == b"nosniff"
    assert api[b"referrer-policy"] == b"strict-origin-when-cross-origin"
    assert api[b"x-frame-options"] == b"DENY"
    assert api[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'none'"
    assert b"strict-transport-security" not in api

    page = dict(security_headers(html=True, tls=True, script_nonce="abc123XYZ_-+/="))
    csp = page[b"content-security-policy"].decode()
    assert "script-src 'self' 'nonce-abc123XYZ_-+/='" in csp
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "'unsafe-eval'" not in csp
    assert page[b"strict-transport-security"] == b"max-age=31536000; includeSubDomains"

    plain = dict(security_headers(html=True, tls=False))
    assert "script-src 'self';" in plain[b"content-security-policy"].decode()


@pytest.mark.parametrize("nonce", ["short", "abc123XYZ'; script-src *", "a" * 200, "abc\r\nX: y"])
def test_a_bad_nonce_is_refused(nonce: str) -> None:
    with pytest.raises(ValueError, match="nonce"):
        security_headers(html=True, tls=False, script_nonce=nonce)
