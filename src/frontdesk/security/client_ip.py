"""The client's IP address, believing ``X-Forwarded-For`` only as far as trusted proxies vouch.

Each proxy appends the address of the peer it received the request from. Walking the header from
the right, an entry is vouched for only while every hop to its right (and the socket peer) is a
trusted proxy; the first untrusted address is the client. Everything further left was written by
the client and is ignored. An entry that is not an address stops the walk at the last hop that
could be vouched for: skipping it would reach entries nobody vouched for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

UNKNOWN = "unknown"
"""The answer when the server reports no peer (some test clients, some socket kinds)."""

XFF = b"x-forwarded-for"
MAX_HOPS = 16
"""Entries read from the right of ``X-Forwarded-For``; no real chain of proxies is longer."""


def parse_networks(values: Sequence[str] | str) -> tuple[Network, ...]:
    """Trusted proxies from settings: addresses or CIDR networks (``"10.0.0.0/8"``, ``"::1"``).

    A single string may hold several, separated by commas. Raises ``ValueError`` for an entry that
    is not an address or network, including a network with host bits set (``"10.0.0.1/8"``).
    """
    items = values.split(",") if isinstance(values, str) else values
    networks: list[Network] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text))
        except ValueError as exc:
            raise ValueError(f"trusted proxy {text!r} is not an address or network: {exc}") from exc
    return tuple(networks)


_LONGEST = 64
"""Longer than any address with brackets, zone and port: such text is garbage (and not cached)."""


def _address(text: str) -> Address | None:
    """An address from one hop: bare, ``[v6]``, ``[v6]:port`` or ``v4:port``; None if garbage."""
    return _parse(text) if len(text) <= _LONGEST else None


@lru_cache(maxsize=4096)
def _parse(text: str) -> Address | None:
    port = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text, rest = text[1:end], text[end + 1 :]
        if rest:
            if rest[0] != ":":
                return None
            port = rest[1:]
    elif text.count(":") == 1:
        text, port = text.split(":", 1)
    if port and not (port.isascii() and port.isdigit()):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return IPv6Address(text.split("%", 1)[0])
    return address


def _trusted(address: Address, trusted_proxies: Sequence[Network]) -> bool:
    return any(address in network for network in trusted_proxies)


def client_ip(scope: Mapping[str, Any], trusted_proxies: Sequence[Network]) -> str:
    """The client's address for an ASGI ``scope``.

    Without trusted proxies, or when the socket peer is not one of them, the socket peer,
    whatever ``X-Forwarded-For`` says. Otherwise the first untrusted address walking every
    ``X-Forwarded-For`` header from the right.
    """
    client = scope.get("client")
    if not client:
        return UNKNOWN
    peer: str = client[0]
    if not trusted_proxies:
        return peer
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted_proxies):
        return peer
    values = [value for name, value in scope["headers"] if name == XFF]
    if not values:
        return str(peer_address)
    hops = b",".join(values).decode("latin-1").rsplit(",", MAX_HOPS)
    if len(hops) > MAX_HOPS:
        del hops[0]  # the unsplit rest of an over-long chain: never vouched for
    vouched = peer_address
    for hop in reversed(hops):
        text = hop.strip()
        if not text:
            continue
        address = _address(text)
        if address is None:
            break
        if not _trusted(address, trusted_proxies):
            return str(address)
        vouched = address
    return str(vouched)


@lru_cache(maxsize=65_536)
def ip_bucket(ip: str) -> str:
    """The unit to rate-limit an address by: an IPv4 address, or an IPv6 address's /64.

    One IPv6 subscriber is usually given a whole /64 and can rotate through it at will.
    Anything that is not an address is returned unchanged.
    """
    address = _address(ip)
    if address is None:
        return ip
    if isinstance(address, IPv4Address):
        return str(address)
    return str(IPv6Network((int(address) >> 64 << 64, 64)))
