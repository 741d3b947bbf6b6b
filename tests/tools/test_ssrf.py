"""The SSRF guard on its own: literal forms, resolved names (through an injected resolver), the allow-list."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools.ssrf import GuardedResolver, SsrfGuard, address_problem, parse_ip_literal

FAKE_DNS = {
    "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.test": ["93.184.216.34", "10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "v6loop.test": ["::1"],
    "intranet.corp": ["10.1.2.3"],
    "wiki.dept.corp": ["10.9.9.9"],
}


async def fake_resolve(host: str, port: int) -> Sequence[str]:
    try:
        return FAKE_DNS[host.rstrip(".")]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


async def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"literal hosts must not be looked up (asked for {host})")


REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0x7f.0.0.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "IPv6 form of 127.0.0.1"),
    ("http://[::ffff:7f00:1]/", "IPv6 form of 127.0.0.1"),
    ("http://[::127.0.0.1]/", "IPv6 form of 127.0.0.1"),
    ("http://[2002:7f00:1::]/", "IPv6 form of 127.0.0.1"),
    ("http://[64:ff9b::a00:1]/", "IPv6 form of 10.0.0.1"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://100.64.0.1/", "shared"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[fc00::1]/", "private"),
    ("http://240.0.0.1/", "refused"),
    ("http://255.255.255.255/", "refused"),
    ("http://localhost/", "loopback name"),
    ("http://LOCALHOST./", "loopback name"),
    ("http://api.localhost:8080/", "loopback name"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_refused_hosts(url: str, reason: str) -> None:
    guard = SsrfGuard(resolver=no_dns)
    with pytest.raises(ToolCallError, match="refused") as caught:
        await guard.check_url(url)
    assert reason in str(caught.value)


def test_refusal_messages_name_the_address() -> None:
    guard = SsrfGuard(resolver=no_dns)
    with pytest.raises(ToolCallError) as caught:
        guard.validate_url("http://127.0.0.1/")
    assert str(caught.value) == "refused: 127.0.0.1 is a loopback address"
    with pytest.raises(ToolCallError) as caught:
        guard.validate_url("http://0x7f.1/")
    assert str(caught.value) == "refused: 0x7f.1 (that is 127.0.0.1) is a loopback address"


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "https://8.8.8.8:8443/dns",
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:93.184.216.34]/",
        "http://1572395042/",  # 93.184.216.34 as one integer: legacy forms of public addresses are fine
    ],
)
async def test_global_literals_are_accepted_without_dns(url: str) -> None:
    # Only checked, never connected to.
    addresses = await SsrfGuard(resolver=no_dns).check_url(url)
    assert len(addresses) == 1 and addresses[0].is_global


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://93.184.216.34/x", "only http and https"),
        ("gopher://93.184.216.34:70/", "only http and https"),
        ("//93.184.216.34/x", "without a scheme"),
        ("http://user@93.184.216.34/", "credentials"),
        ("http://a@b/", "credentials"),
        ("http://user:pw@public.test/", "credentials"),
        ("http://evil.test\\@127.0.0.1/", "not a valid URL"),
        ("http:///path", "no host"),
        ("http://exa mple.test/", "whitespace"),
        ("http://%31%32%37.0.0.1/", "malformed numeric host"),
        ("http://%65vil.test/", "not a valid host name"),
        ("http://08.0.0.1/", "malformed numeric host"),
        ("http://1.2.3.4.5/", "malformed numeric host"),
        ("http://256.1.1.1/", "out of range"),
        ("http://[fe80::1%25eth0]/", "zone id"),
        ("http://93.184.216.34:99999/", "not a valid URL"),
    ],
)
async def test_malformed_and_disallowed_urls(url: str, reason: str) -> None:
    with pytest.raises(ToolCallError) as caught:
        await SsrfGuard(resolver=fake_resolve).check_url(url)
    assert reason in str(caught.value)


async def test_names_are_refused_if_any_address_is_not_global() -> None:
    guard = SsrfGuard(resolver=fake_resolve)
    assert [str(a) for a in await guard.check_url("https://public.test/")] == FAKE_DNS["public.test"]
    with pytest.raises(ToolCallError, match=r"mixed.test resolves to 10.0.0.5, which is a private address"):
        await guard.check_url("http://mixed.test/")
    with pytest.raises(ToolCallError, match="169.254.169.254, which is a link-local"):
        await guard.check_url("http://metadata.test/")
    with pytest.raises(ToolCallError, match="loopback"):
        await guard.check_url("http://v6loop.test/")
    with pytest.raises(ToolCallError, match="could not resolve host nowhere.test"):
        await guard.check_url("http://nowhere.test/")


async def test_allow_list_networks_admit_only_their_addresses() -> None:
    guard = SsrfGuard(["127.0.0.1/32", "[fd00::]/8"], resolver=no_dns)
    assert await guard.check_url("http://127.0.0.1:8080/x") == [ipaddress.ip_address("127.0.0.1")]
    assert await guard.check_url("http://127.1:8080/x") == [ipaddress.ip_address("127.0.0.1")]
    assert await guard.check_url("http://[::ffff:127.0.0.1]/") == [ipaddress.ip_address("::ffff:7f00:1")]
    assert await guard.check_url("http://[fd12::1]/")
    with pytest.raises(ToolCallError, match="loopback"):
        await guard.check_url("http://127.0.0.2/")
    with pytest.raises(ToolCallError, match="loopback name"):
        await guard.check_url("http://localhost/")  # the network does not admit the name


async def test_allow_list_names_and_domains() -> None:
    guard = SsrfGuard(["intranet.corp", "*.dept.corp"], resolver=fake_resolve)
    assert await guard.check_url("http://intranet.corp/") == [ipaddress.ip_address("10.1.2.3")]
    assert await guard.check_url("http://wiki.dept.corp./") == [ipaddress.ip_address("10.9.9.9")]
    with pytest.raises(ToolCallError, match="private"):
        await guard.check_url("http://10.1.2.3/")  # admitting a name does not admit its address everywhere


async def test_localhost_through_real_resolution_when_allowed_by_name() -> None:
    addresses = await SsrfGuard(["localhost"]).check_url("http://localhost/")
    assert addresses and all(a.is_loopback for a in addresses)


def test_literal_parsing_and_classification() -> None:
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("0x7f.1") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip_literal("3232235777") == ipaddress.ip_address("192.168.1.1")
    assert parse_ip_literal("192.168.257") == ipaddress.ip_address("192.168.1.1")
    assert parse_ip_literal("[::1]") == ipaddress.ip_address("::1")
    assert address_problem(ipaddress.ip_address("93.184.216.34")) is None
    assert address_problem(ipaddress.ip_address("64:ff9b::5db8:d822")) is None  # NAT64 of a public address


async def test_guarded_resolver_returns_only_vetted_addresses_of_the_asked_family() -> None:
    resolver = GuardedResolver(SsrfGuard(resolver=fake_resolve))
    results = await resolver.resolve("public.test", 443, family=socket.AF_UNSPEC)
    assert [(r["host"], r["port"], r["family"]) for r in results] == [
        ("93.184.216.34", 443, socket.AF_INET),
        ("2606:2800:220:1:248:1893:25c8:1946", 443, socket.AF_INET6),
    ]
    assert [r["host"] for r in await resolver.resolve("public.test", 80, family=socket.AF_INET)] == ["93.184.216.34"]
    with pytest.raises(ToolCallError, match="10.0.0.5"):
        await resolver.resolve("mixed.test", 80, family=socket.AF_INET)
    with pytest.raises(ToolCallError, match="no IPv6"):
        await GuardedResolver(SsrfGuard(["intranet.corp"], resolver=fake_resolve)).resolve(
            "intranet.corp", 80, family=socket.AF_INET6
        )
    await resolver.close()
