"""The SSRF guard: decides which URLs the web fetcher may touch, and pins connections to the addresses it vetted.

A model chooses the URLs, and pages it reads can steer it, so every URL (and every redirect hop) is treated as
hostile. The guard refuses anything that is not http(s), carries credentials, or whose host is, or resolves to, an
address that is not globally routable: loopback, private, link-local (cloud metadata lives at 169.254.169.254),
multicast, unspecified, reserved, site-local, shared (100.64.0.0/10). An allow-list of networks and host names
opens holes on purpose (an intranet wiki, a test server on 127.0.0.1).

Host literals are normalized the way browsers and `inet_aton` read them (`2130706433`, `0177.0.0.1`, `0x7f.1`,
`127.1` are all 127.0.0.1), and IPv6 forms that carry an IPv4 address (`::ffff:127.0.0.1`, 6to4, NAT64) are judged
by that address, so a literal cannot dress a private address up as something else.

DNS rebinding: checking a name and then letting the HTTP client resolve it again leaves a window in which the name
can start pointing somewhere else. `GuardedResolver` closes it by being the connector's resolver: the name is
resolved once, every address is vetted, and aiohttp can only connect to the vetted addresses it returns. That was
chosen over rewriting the URL to a pinned IP because it keeps TLS (SNI and certificate checks use the real name),
the Host header, keep-alive and the connector's DNS cache working unchanged. aiohttp skips the resolver for
canonical IP literals, which is why `validate_url` checks literals itself before every request: a literal cannot
rebind. The client must not use a proxy (`trust_env=False`), or the proxy would do the resolving instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from ..errors import ToolCallError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Looks up a host name; returns its addresses as strings. Injected in tests so they never touch real DNS.
NameResolver = Callable[[str, int], Awaitable[Sequence[str]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_DECIMAL, _OCTAL, _HEX = re.compile(r"^[0-9]+$"), re.compile(r"^[0-7]+$"), re.compile(r"^[0-9a-f]*$")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_METADATA = ipaddress.IPv4Address("169.254.169.254")


async def system_resolve(host: str, port: int) -> list[str]:
    """All addresses of `host` from the event loop's getaddrinfo (which runs in a thread, never blocking the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _ipv4_number(part: str) -> int | None:
    """One dotted part the way inet_aton reads it: 0x.. hex, 0.. octal, else decimal; None when it is none of them."""
    if part[:2] in ("0x", "0X"):
        digits = part[2:].lower()
        return int(digits or "0", 16) if _HEX.match(digits) else None
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if _OCTAL.match(part) else None
    return int(part) if _DECIMAL.match(part) else None


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """WHATWG-style IPv4 parsing: None for a host name, the address for any numeric form, ToolCallError if broken.

    A host whose last label is a number is numeric as far as browsers and resolvers go; refusing the malformed ones
    (`08.0.0.1`, `1.2.3.4.5`, `256.1.1.1`) is safer than letting a system resolver guess what they mean.
    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts[-1] or (not _DECIMAL.match(parts[-1]) and _ipv4_number(parts[-1]) is None):
        return None
    numbers = [_ipv4_number(part) if part else None for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise ToolCallError(f"refused: {host!r} is a malformed numeric host")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ToolCallError(f"refused: {host!r} is a malformed numeric host (a part is out of range)")
    value = values[-1]
    for index, n in enumerate(values[:-1]):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host literal denotes (any IPv4 legacy form, IPv6 with or without brackets), None for a name."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:  # a zone id only makes sense for link-local addresses, which are refused anyway
            raise ToolCallError(f"refused: {host!r} carries an IPv6 zone id")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise ToolCallError(f"refused: {host!r} is not a valid IPv6 address") from None
    return _parse_ipv4(host)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, IPv4-compatible, 6to4, NAT64 (RFC 6052 well-known prefix)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: IPAddress) -> str | None:
    """Why an address must not be contacted (a phrase such as "a loopback address"), or None if it is global."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner)
            if problem is not None:
                return f"an IPv6 form of {inner}, {problem}"
            if ip in _IPV4_COMPATIBLE:  # deprecated since RFC 4291; no legitimate page lives there
                return "an IPv4-compatible IPv6 address (deprecated)"
            return None  # mapped/6to4/NAT64 of a public address reaches that public address
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (the cloud metadata endpoint)" if ip == _METADATA else "a link-local address"
    if ip.is_multicast:  # checked by hand: older Pythons call multicast "global"
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip in _SHARED:
        return "a shared address (100.64.0.0/10, carrier-grade NAT)"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if ip in _NAT64_LOCAL or not ip.is_global:
        return "not a globally routable address"
    return None


def _normalize_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


class SsrfGuard:
    """Vets URLs and host addresses against the rules in the module docstring.

    `allow` holds CIDR networks or single addresses ("127.0.0.1/32", "10.1.2.3", "fd00::/8") whose addresses are
    admitted, and host names ("wiki.corp", or "*.corp" / ".corp" for a whole domain) admitted whatever they resolve
    to. `resolver` looks names up; it defaults to the loop's getaddrinfo.
    """

    def __init__(self, allow: Iterable[str] = (), *, resolver: NameResolver | None = None) -> None:
        self._networks: list[IPNetwork] = []
        self._names: set[str] = set()
        self._suffixes: list[str] = []
        for entry in allow:
            entry = entry.strip()
            if not entry:
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry.replace("[", "").replace("]", ""), strict=False))
                continue
            except ValueError:
                pass
            name = _normalize_name(entry)
            if name.startswith(("*.", ".")):
                self._suffixes.append("." + name.lstrip("*."))
            else:
                self._names.add(name)
        self._resolver = resolver or system_resolve

    def name_allowed(self, host: str) -> bool:
        name = _normalize_name(host)
        return name in self._names or any(name.endswith(suffix) for suffix in self._suffixes)

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        return any(address in network for address in candidates for network in self._networks)

    def check_address(self, ip: IPAddress, host: str | None = None, *, resolved: bool = False) -> None:
        """Raise ToolCallError unless `ip` may be contacted; `host` (the name or literal it came from) is quoted."""
        if self.address_allowed(ip):
            return
        problem = address_problem(ip)
        if problem is None:
            return
        if resolved:
            subject = f"{host} resolves to {ip}, which is"
        elif host and host.strip("[]") != str(ip):
            subject = f"{host} (that is {ip}) is"
        else:
            subject = f"{ip} is"
        raise ToolCallError(f"refused: {subject} {problem}")

    def validate_url(self, url: str | URL) -> URL:
        """The checks that need no DNS: scheme, credentials, host syntax, and IP literals. Returns the parsed URL."""
        if isinstance(url, str):
            if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url.strip()):
                raise ToolCallError("refused: the URL contains whitespace or control characters")
            try:
                url = URL(url.strip())
            except ValueError as exc:
                raise ToolCallError(f"refused: not a valid URL ({exc})") from None
        shown = str(url)[:200]
        if url.scheme not in ALLOWED_SCHEMES:
            got = f"{url.scheme}:" if url.scheme else "a URL without a scheme"
            raise ToolCallError(f"refused: only http and https URLs can be fetched (got {got})")
        if url.raw_user is not None or url.raw_password is not None:
            raise ToolCallError(f"refused: URLs with credentials (user@host) are not fetched: {shown}")
        host = url.raw_host
        if not host:
            raise ToolCallError(f"refused: the URL has no host: {shown}")
        ip = parse_ip_literal(host)
        if ip is not None:
            self.check_address(ip, host)
            return url
        name = _normalize_name(host)
        if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
            raise ToolCallError(f"refused: {host!r} is not a valid host name")
        if not self.name_allowed(name) and (name == "localhost" or name.endswith(".localhost")):
            raise ToolCallError(f"refused: {host} is a loopback name")  # RFC 6761: never sent to DNS
        return url

    async def resolve(self, host: str, port: int = 0) -> list[IPAddress]:
        """The addresses of `host`, all vetted; refuses if any one of them is not allowed (not just the first)."""
        ip = parse_ip_literal(host)
        if ip is not None:
            self.check_address(ip, host)
            return [ip]
        try:
            found = await self._resolver(host, port)
        except OSError as exc:
            raise ToolCallError(f"could not resolve host {host}: {exc.strerror or exc}") from None
        try:
            addresses = [ipaddress.ip_address(address.split("%", 1)[0]) for address in found]
        except ValueError as exc:
            raise ToolCallError(f"could not resolve host {host}: {exc}") from None
        if not addresses:
            raise ToolCallError(f"could not resolve host {host}: no addresses")
        if not self.name_allowed(host):
            for address in addresses:
                self.check_address(address, host, resolved=True)
        return addresses

    async def check_url(self, url: str | URL) -> list[IPAddress]:
        """Full check of one URL, DNS included; returns the vetted addresses of its host."""
        parsed = self.validate_url(url)
        assert parsed.raw_host is not None  # validate_url refuses hostless URLs
        return await self.resolve(parsed.raw_host, parsed.port or 0)


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that runs the guard, so the connector only ever connects to vetted addresses."""

    def __init__(self, guard: SsrfGuard) -> None:
        self.guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.guard.resolve(host, port)
        wanted = {socket.AF_INET: 4, socket.AF_INET6: 6}.get(family)
        results = [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
            if wanted is None or address.version == wanted
        ]
        if not results:
            raise ToolCallError(f"could not resolve host {host}: no IPv{wanted} address")
        return results

    async def close(self) -> None:
        """Nothing to release: lookups go through the guard's resolver function."""
