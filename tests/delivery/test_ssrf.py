"""The SSRF guard: which tenant URLs are allowed, at registration and again at send time."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from frontdesk.security.ssrf import UnsafeUrl, UrlGuard

NAMES = {
    "hooks.example.com": ["93.184.216.34"],
    "dual.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "private.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:192.168.1.1"],
    "ula.example.com": ["fd00::1"],
}


async def fake_resolver(host: str, port: int) -> Sequence[str]:
    if host not in NAMES:
        raise OSError("Name or service not known")
    return NAMES[host]


ALLOWED = [
    "https://hooks.example.com/frontdesk",
    "https://hooks.example.com:8443/a?b=c",
    "https://dual.example.com/",
    "https://93.184.216.34/hook",
    "https://[2606:4700::1111]/hook",
]
REFUSED = {
    "http://hooks.example.com/": "must use https",
    "ftp://hooks.example.com/": "must use https",
    "https://user:pw@hooks.example.com/": "credentials",
    "https://hooks.example.com/#frag": "fragment",
    "https://private.example.com/": "private address",
    "https://mixed.example.com/": "loopback",
    "https://metadata.example.com/": "link-local",
    "https://mapped.example.com/": "private address",
    "https://ula.example.com/": "private address",
    "https://nowhere.example.com/": "does not resolve",
    "https://127.0.0.1/": "loopback",
    "https://10.0.0.1/": "private",
    "https://172.16.5.4/": "private",
    "https://192.168.0.1/": "private",
    "https://169.254.169.254/latest/meta-data/": "link-local",
    "https://100.64.0.1/": "CGNAT",
    "https://224.0.0.1/": "multicast",
    "https://0.0.0.0/": "unspecified",
    "https://240.0.0.1/": "reserved",
    "https://192.0.2.10/": "private",
    "https://[::1]/": "loopback",
    "https://[::]/": "unspecified",
    "https://[fe80::1]/": "link-local",
    "https://[fc00::1]/": "private",
    "https://[ff02::1]/": "multicast",
    "https://[::ffff:127.0.0.1]/": "loopback",
    "https://[::ffff:169.254.169.254]/": "link-local",
    "https://[64:ff9b::a00:1]/": "private",
    "https://2130706433/": "unusual form",
    "https://0x7f000001/": "unusual form",
    "https://0x7f.0.0.1/": "unusual form",
    "https://017700000001/": "unusual form",
    "https://0177.0.0.1/": "unusual form",
    "https://127.1/": "unusual form",
    "https://localhost/": "fully qualified",
    "https://intranet/": "fully qualified",
    "https://metadata.google.internal/computeMetadata/v1/": "internal name",
    "https://printer.local/": "internal name",
    "https://app.localhost/": "internal name",
    "https://hooks.example.com:0x50/": "malformed",
    "https://hooks example.com/": "spaces",
    "https://hooks.example.com\\@evil.com/": "backslashes",
    "https:///path-only": "no host",
    "https://" + "a" * 2050 + ".com/": "longer than",
}


@pytest.mark.parametrize("url", ALLOWED)
async def test_public_https_urls_are_allowed(url: str) -> None:
    target = await UrlGuard(resolver=fake_resolver).check(url)
    assert target.address in {*NAMES.get(target.host, []), target.host.strip("[]")}


@pytest.mark.parametrize(("url", "reason"), sorted(REFUSED.items()))
async def test_unsafe_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await UrlGuard(resolver=fake_resolver).check(url)
    assert reason in refused.value.detail
    assert refused.value.status == 422


async def test_the_development_setting_allows_local_http() -> None:
    guard = UrlGuard(allow_private=True, resolver=fake_resolver)
    target = await guard.check("http://127.0.0.1:8080/hooks")
    assert (target.address, target.port) == ("127.0.0.1", 8080)
    with pytest.raises(UnsafeUrl, match="credentials"):
        await guard.check("http://u:p@127.0.0.1/")


async def test_the_request_goes_to_the_checked_address() -> None:
    target = await UrlGuard(resolver=fake_resolver).check("https://dual.example.com/x")
    assert target.address == "93.184.216.34"
    assert target.host == "dual.example.com"
