"""The client IP: X-Forwarded-For counts only as far as trusted proxies vouch for it."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.security.client_ip import UNKNOWN, client_ip, ip_bucket, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1", "::1"])


def scope(peer: str | None, *forwarded: bytes, port: int = 50000) -> dict[str, Any]:
    headers = [(b"host", b"example.com")]
    headers += [(b"x-forwarded-for", value) for value in forwarded]
    headers.append((b"user-agent", b"test"))
    return {"type": "http", "client": (peer, port) if peer else None, "headers": headers}


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_ip(scope("203.0.113.9", b"1.2.3.4"), ()) == "203.0.113.9"
    assert client_ip(scope("10.0.0.1", b"1.2.3.4"), ()) == "10.0.0.1"


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_ip(scope("203.0.113.9", b"1.2.3.4"), PROXIES) == "203.0.113.9"
    assert client_ip(scope("203.0.113.9", b"10.0.0.2"), PROXIES) == "203.0.113.9"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ((b"198.51.100.7",), "198.51.100.7"),
        ((b"1.2.3.4, 198.51.100.7",), "198.51.100.7"),  # the client's own claim is ignored
        ((b"1.2.3.4, 198.51.100.7, 10.0.0.2",), "198.51.100.7"),  # through two proxies
        ((b"1.2.3.4", b"198.51.100.7, 10.0.0.2"), "198.51.100.7"),  # several headers
        ((b"1.2.3.4", b"198.51.100.7", b"10.0.0.2"), "198.51.100.7"),
        ((b"198.51.100.7,, ",), "198.51.100.7"),  # empty entries carry no claim
        ((b"198.51.100.7:5555",), "198.51.100.7"),  # address:port, as some balancers write
        ((b"[2001:db8::7]:443",), "2001:db8::7"),
        ((b"2001:DB8:0::7",), "2001:db8::7"),
        ((b"::ffff:198.51.100.7",), "198.51.100.7"),
        ((b"1.2.3.4, unknown",), "10.0.0.1"),  # garbage where a proxy vouches: stop there
        ((b"1.2.3.4, unknown, 10.0.0.2",), "10.0.0.2"),
        ((b"1.2.3.4, 999.1.1.1, 10.0.0.2",), "10.0.0.2"),
        ((b"1.2.3.4, [::1, 10.0.0.2",), "10.0.0.2"),
        ((b"1.2.3.4, 1.2.3.4:http",), "10.0.0.1"),
        ((b"10.0.0.3, 10.0.0.2",), "10.0.0.3"),  # only proxies: the farthest one
        ((), "10.0.0.1"),
    ],
)
def test_a_trusted_peer_is_walked_through(forwarded: tuple[bytes, ...], expected: str) -> None:
    assert client_ip(scope("10.0.0.1", *forwarded), PROXIES) == expected


def test_ipv6_and_mapped_peers() -> None:
    assert client_ip(scope("::1", b"198.51.100.7"), PROXIES) == "198.51.100.7"
    assert client_ip(scope("::ffff:10.0.0.1", b"198.51.100.7"), PROXIES) == "198.51.100.7"
    assert client_ip(scope("2001:db8::1", b"198.51.100.7"), PROXIES) == "2001:db8::1"


def test_a_long_chain_is_read_only_so_far() -> None:
    chain = b"6.6.6.6, " + b", ".join(b"10.0.0.%d" % n for n in range(40))
    assert client_ip(scope("10.0.0.1", chain), PROXIES).startswith("10.0.0.")


def test_no_peer() -> None:
    assert client_ip(scope(None, b"1.2.3.4"), PROXIES) == UNKNOWN
    assert client_ip(scope(None), ()) == UNKNOWN


def test_a_peer_that_is_no_address_is_never_trusted() -> None:
    assert client_ip(scope("testclient", b"1.2.3.4"), PROXIES) == "testclient"


@given(forwarded=st.lists(st.binary(max_size=120), max_size=4), peer=st.ip_addresses())
def test_an_untrusted_peer_cannot_forge_anything(
    forwarded: list[bytes], peer: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> None:
    if any(peer in network for network in PROXIES) or (
        isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None
    ):
        peer = ipaddress.ip_address("203.0.113.1")
    assert client_ip(scope(str(peer), *forwarded), PROXIES) == str(peer)
    assert client_ip(scope(str(peer), *forwarded), ()) == str(peer)


@given(prefix=st.binary(max_size=200), client=st.ip_addresses(v=4))
def test_what_the_client_wrote_never_beats_what_the_proxy_appended(
    prefix: bytes, client: ipaddress.IPv4Address
) -> None:
    if client.is_private or client.is_loopback:
        client = ipaddress.IPv4Address("198.51.100.1")
    forwarded = prefix + b", " + str(client).encode()
    assert client_ip(scope("10.0.0.1", forwarded), PROXIES) == str(client)


@given(forwarded=st.lists(st.binary(max_size=120), max_size=4))
def test_the_answer_is_always_an_address(forwarded: list[bytes]) -> None:
    ipaddress.ip_address(client_ip(scope("10.0.0.1", *forwarded), PROXIES))


def test_parse_networks() -> None:
    assert parse_networks(["10.0.0.0/8", " 127.0.0.1 ", "::1", ""]) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert len(parse_networks("10.0.0.0/8, 192.168.0.0/16")) == 2
    assert parse_networks([]) == ()
    for bad in ("10.0.0.1/8", "proxy.internal", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="trusted proxy"):
            parse_networks([bad])


def test_ip_bucket() -> None:
    assert ip_bucket("198.51.100.7") == "198.51.100.7"
    assert ip_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:2::9") == ip_bucket("2001:db8:1:2:ffff::1")
    assert ip_bucket(UNKNOWN) == UNKNOWN
