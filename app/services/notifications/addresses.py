"""Where merchants' webhooks may go: public `https` addresses only (no server-side request
forgery into our own network); loopback too outside production, so the demo and the tests can
receive them.

Checked twice: the URL when the endpoint is saved (a clear error for what can never be sent),
and the host's addresses at every delivery, after DNS, because a name can point anywhere and
change. The delivery then connects to the address that was checked (not to the name again: a
second lookup could answer differently), with the name kept for the Host header and for TLS
(SNI and the certificate check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

MAX_URL_LENGTH = 2048
# Cloud metadata services answer on these whatever else is allowed (link-local already, and
# fd00:ec2::254 is unique-local); named so the refusal says what it is.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """The URL or its host's address is not one a webhook may be sent to."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_loopback: bool  # development and tests: loopback receivers, over http too

    @classmethod
    def for_environment(cls, production: bool) -> AddressPolicy:
        return cls(allow_loopback=not production)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address in its last 32 bits
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still routed inside some networks


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo): a
    gateway may deliver it there, so it is checked as that address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if address in NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64, or ::a.b.c.d
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def _refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why `address` may not be sent to, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _refusal(embedded, policy)
        if address in SITE_LOCAL:
            return f"{address} is not a public address"
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_loopback:
        return None if policy.allow_loopback else f"{address} is a loopback address"
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address"
    return None


def ascii_host(url: httpx.URL) -> str:
    """The host as it goes on the wire (IDNA 2008, `xn--...`): what DNS, TLS and the Host
    header all name. Python's own codec (IDNA 2003) would map `straße.de` to `strasse.de`,
    another domain."""
    return url.raw_host.decode("ascii")


def check_url(url: str, policy: AddressPolicy) -> httpx.URL:
    """The endpoint URL as saved: absolute http(s), a host, no credentials or fragment, https
    unless its host is loopback where allowed; a literal address must be allowed. Raises
    `AddressRefused` with the reason."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise AddressRefused(f"The URL is not valid: {exc}") from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise AddressRefused("The URL must be an absolute https:// URL.")
    if parsed.userinfo:
        raise AddressRefused("The URL must not carry credentials.")
    if parsed.fragment:
        raise AddressRefused("The URL must not have a fragment.")
    host = ascii_host(parsed)
    literal = _literal_address(host)
    if literal is not None:
        reason = _refusal(literal, policy)
        if reason is not None:
            raise AddressRefused(f"Webhooks cannot be sent to {host}: {reason}.")
    loopback_name = host == "localhost" or (literal is not None and literal.is_loopback)
    if parsed.scheme == "http" and not (policy.allow_loopback and loopback_name):
        raise AddressRefused("The URL must use https://.")
    return parsed


async def resolve_checked(url: httpx.URL, policy: AddressPolicy) -> IPAddress:
    """The address to connect to: the host's, looked up now, every one of them allowed (a name
    with one private address among public ones is refused: which one a client picks is not
    ours to know). Raises `AddressRefused`."""
    host = ascii_host(url)
    literal = _literal_address(host)
    if literal is not None:
        found = [literal]
    else:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise AddressRefused(f"{host} does not resolve: {exc}") from None
        found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not found:
            raise AddressRefused(f"{host} does not resolve")
    for address in found:
        reason = _refusal(address, policy)
        if reason is not None:
            raise AddressRefused(f"{host} resolves to {reason}")
    return found[0]


def pinned_request(
    url: httpx.URL, address: IPAddress
) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """(URL to the checked address, headers, request extensions): the connection goes to the
    address; Host and TLS (SNI, certificate) still name the URL's host."""
    host_header = url.netloc.decode("ascii")
    host = ascii_host(url)
    extensions = {} if _literal_address(host) is not None else {"sni_hostname": host}
    return url.copy_with(host=str(address)), {"Host": host_header}, extensions
