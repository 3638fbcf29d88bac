"""The fetcher behind URL ingestion refuses every non-public address, before connecting and on
every redirect; a local server on a loopback address stands in for the web, let through only by
the explicit test allowance. Nothing here connects outside 127.0.0.0/8."""

import httpx
import pytest

from domain.documents.fetcher import (
    FetchedTooLargeError,
    SafeFetcher,
    UrlFetchFailedError,
    UrlNotAllowedError,
    check_address,
)
from tests.fixtures.web import PAGE, web_server

SERVER_HOST = "127.0.0.2"

NOT_PUBLIC = [
    "127.0.0.1",
    "127.0.0.2",
    "::1",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.10",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # shared (carrier-grade NAT)
    "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    "224.0.0.1",
    "240.0.0.1",
    "fc00::1",
    "fd00:ec2::254",  # cloud metadata over IPv6
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_every_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(UrlNotAllowedError):
        check_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    check_address(address)


def _no_connection() -> httpx.MockTransport:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a connection was attempted to {request.url}")

    return httpx.MockTransport(refuse)


@pytest.mark.parametrize("address", NOT_PUBLIC)
async def test_a_name_resolving_to_a_private_address_is_refused_without_connecting(
    address: str,
) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    fetcher = SafeFetcher(max_bytes=10_000, resolver=resolver, transport=_no_connection())
    with pytest.raises(UrlNotAllowedError):
        await fetcher.fetch("https://intranet.example/page")


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    fetcher = SafeFetcher(max_bytes=10_000, resolver=resolver, transport=_no_connection())
    with pytest.raises(UrlNotAllowedError):
        await fetcher.fetch("http://mixed.example/")


async def test_the_checked_address_is_the_one_connected_to_no_second_lookup() -> None:
    """DNS rebinding: a second lookup would answer 127.0.0.1; there is none."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    lookups: list[str] = []
    seen: list[httpx.Request] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"hello", headers={"content-type": "text/plain"})

    fetcher = SafeFetcher(
        max_bytes=10_000, resolver=resolver, transport=httpx.MockTransport(record)
    )
    fetched = await fetcher.fetch("https://rebind.example/notes")

    assert fetched.content == b"hello"
    assert lookups == ["rebind.example"]
    assert [request.url.host for request in seen] == ["93.184.216.34"]
    assert seen[0].headers["host"] == "rebind.example"
    assert seen[0].extensions["sni_hostname"] == "rebind.example"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/file", "file:///etc/passwd", "http://user:pw@example.com/"]
)
async def test_only_plain_http_and_https_urls(url: str) -> None:
    fetcher = SafeFetcher(max_bytes=10_000, transport=_no_connection())
    with pytest.raises(UrlNotAllowedError):
        await fetcher.fetch(url)


async def test_a_local_server_is_fetched_only_through_the_test_allowance() -> None:
    with web_server(SERVER_HOST) as server:
        allowed = SafeFetcher(max_bytes=10_000, allowed_addresses=frozenset({SERVER_HOST}))
        fetched = await allowed.fetch(server.url("/page.html"))
        assert fetched.content == PAGE
        assert fetched.content_type == "text/html; charset=utf-8"
        followed = await allowed.fetch(server.url("/relative-redirect"))
        assert (followed.content, followed.url) == (PAGE, server.url("/page.html"))

        with pytest.raises(UrlNotAllowedError):
            await SafeFetcher(max_bytes=10_000).fetch(server.url("/page.html"))


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:9/secret", "http://localhost/secret", "http://169.254.169.254/"]
)
async def test_a_redirect_to_loopback_or_metadata_is_refused_even_from_an_allowed_server(
    target: str,
) -> None:
    with web_server(SERVER_HOST, redirect_to=target) as server:
        fetcher = SafeFetcher(max_bytes=10_000, allowed_addresses=frozenset({SERVER_HOST}))
        with pytest.raises(UrlNotAllowedError):
            await fetcher.fetch(server.url("/redirect"))


async def test_size_and_time_are_bounded() -> None:
    with web_server(SERVER_HOST) as server:
        small = SafeFetcher(max_bytes=50_000, allowed_addresses=frozenset({SERVER_HOST}))
        with pytest.raises(FetchedTooLargeError):
            await small.fetch(server.url("/big"))
        hurried = SafeFetcher(
            max_bytes=50_000, timeout_seconds=0.5, allowed_addresses=frozenset({SERVER_HOST})
        )
        with pytest.raises(UrlFetchFailedError):
            await hurried.fetch(server.url("/slow"))
        with pytest.raises(UrlFetchFailedError):
            await small.fetch(server.url("/missing"))


async def test_a_disabled_fetcher_resolves_and_fetches_nothing() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("resolved while disabled")

    fetcher = SafeFetcher(
        max_bytes=10_000, resolver=resolver, transport=_no_connection(), enabled=False
    )
    with pytest.raises(UrlNotAllowedError, match="turned off"):
        await fetcher.fetch("https://example.com/")
