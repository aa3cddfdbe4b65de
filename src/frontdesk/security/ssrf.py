"""Server-side request forgery guard for the URLs tenants give us (their webhook endpoints).

A URL is allowed only if it is ``https`` (``http`` too when private addresses are allowed, for
development), carries no credentials, names its host in an ordinary way (no decimal, octal or
hex spellings of an address, no internal names such as ``metadata.google.internal``) and the host
resolves only to public unicast addresses. Loopback, private (RFC 1918, ULA), link-local (the
cloud metadata address among them), CGNAT, multicast, reserved and unspecified addresses are
refused, also when wrapped in IPv6 (IPv4-mapped, NAT64, 6to4).

The check runs at registration and again right before each request; the request is then sent to
the very address that was checked (``Target.address``), so a DNS answer that changes in between
(rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from frontdesk.errors import Invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port)`` → the addresses the host resolves to, as text."""

MAX_URL_LENGTH = 2048
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
INTERNAL_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain", ".home.arpa", ".lan")
INTERNAL_NAMES = frozenset({"localhost", "metadata", "instance-data"})
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class UnsafeUrl(Invalid):
    title = "URL not allowed"
    type_slug = "unsafe-url"


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where it points and the address the request must go to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The operating system's resolver (every address, IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64 or ip in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def refusal(ip: Address) -> str | None:
    """Why ``ip`` may not be called, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped IPv6 address"
        inner = embedded_ipv4(ip)
        if inner is not None:
            reason = refusal(inner)
            return f"{reason} (inside an IPv6 address)" if reason else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    for matches, reason in checks:
        if matches:
            return reason
    return None


def _host_kind(host: str) -> Address | None:
    """The address a host literal is, None for a name; unusual spellings are refused."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # 2130706433, 0x7f.1, 017700000001, 127.1: spellings of 127.0.0.1 that parsers disagree on.
    labels = [label for label in host.split(".") if label]
    if labels and all(re.fullmatch(r"[0-9]+|0x[0-9a-f]*", label) for label in labels):
        raise UnsafeUrl("the URL's host is an address written in an unusual form")
    return None


def _check_name(host: str) -> None:
    name = host.rstrip(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise UnsafeUrl("the URL's host is not a valid name")
    if "." not in name:
        raise UnsafeUrl("the URL's host must be a fully qualified name")
    if name in INTERNAL_NAMES or name.endswith(INTERNAL_SUFFIXES):
        raise UnsafeUrl(f"the URL's host '{name}' is an internal name")
    if name.split(".")[-1].isdigit():
        raise UnsafeUrl("the URL's host is an address written in an unusual form")


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    url: str
    scheme: str
    host: str
    port: int
    literal: Address | None


def parse_url(url: str, *, allow_private: bool = False) -> ParsedUrl:
    """The syntactic checks (no DNS): scheme, credentials, host spelling and internal names."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise UnsafeUrl("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"the URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_private and scheme == "http"):
        raise UnsafeUrl("the URL must use https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("the URL must not contain credentials")
    if parts.fragment:
        raise UnsafeUrl("the URL must not have a fragment")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("the URL has no host")
    literal = _host_kind(host)
    if literal is None and not allow_private:
        _check_name(host)
    if literal is not None and not allow_private:
        reason = refusal(literal)
        if reason:
            raise UnsafeUrl(f"the URL's host is {reason}")
    default = 443 if scheme == "https" else 80
    return ParsedUrl(url=url, scheme=scheme, host=host, port=port or default, literal=literal)


class UrlGuard:
    """Checks URLs and resolves them to a pinned, checked address.

    ``allow_private`` (development only) lets ``http`` and local addresses through."""

    def __init__(self, *, allow_private: bool = False, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver: Resolver = resolver or system_resolver

    def parse(self, url: str) -> ParsedUrl:
        return parse_url(url, allow_private=self.allow_private)

    async def check(self, url: str) -> Target:
        """Parse ``url``, resolve its host and check every address; ``UnsafeUrl`` says why not."""
        parsed = self.parse(url)
        if parsed.literal is not None:
            addresses: list[Address] = [parsed.literal]
        else:
            try:
                answers = await self.resolver(parsed.host, parsed.port)
            except (OSError, UnicodeError) as exc:
                raise UnsafeUrl(f"the URL's host '{parsed.host}' does not resolve") from exc
            addresses = []
            for answer in answers:
                try:
                    addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
                except ValueError:
                    raise UnsafeUrl(f"the URL's host '{parsed.host}' resolved oddly") from None
            if not addresses:
                raise UnsafeUrl(f"the URL's host '{parsed.host}' does not resolve")
        if not self.allow_private:
            for address in addresses:
                reason = refusal(address)
                if reason:
                    raise UnsafeUrl(f"the URL's host '{parsed.host}' resolves to {reason}")
        first = addresses[0]
        if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped is not None:
            first = first.ipv4_mapped
        return Target(
            url=parsed.url,
            scheme=parsed.scheme,
            host=parsed.host,
            port=parsed.port,
            address=str(first),
        )


async def send_pinned(
    target: Target,
    *,
    content: bytes,
    headers: dict[str, str],
    timeouts: httpx.Timeout,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Response:
    """POST ``content`` to the checked ``target``, connecting to ``target.address`` only.

    The Host header and the TLS server name (SNI and certificate check) stay the URL's host.
    Redirects are never followed, no proxy from the environment is used, connections are not
    reused (one pinned to an address must not serve another host) and the response body is not
    read. The caller closes nothing: the response is returned closed, status and headers intact.
    """
    url = httpx.URL(target.url)
    pinned = url.copy_with(host=target.address)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    async with httpx.AsyncClient(
        timeout=timeouts,
        follow_redirects=False,
        trust_env=False,
        verify=verify,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        request = client.build_request(
            "POST",
            pinned,
            content=content,
            headers={**headers, "Host": url.netloc.decode("ascii")},
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        await response.aclose()
        return response
