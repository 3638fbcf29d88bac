"""Fetching a page for ingestion without becoming a proxy into the private network (SSRF).

Every hop (the URL and each redirect, followed by hand) is checked before any connection:
http or https only, no credentials in the URL, and the host resolved once, here, with every
address it resolves to required to be a public one — loopback, private (10/8, 172.16/12,
192.168/16, fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10),
shared, multicast, reserved and unspecified addresses are refused, IPv4 mapped into IPv6 too.
The connection then goes to the checked address itself (the Host header and TLS name stay the
original host), so a second lookup cannot answer differently (DNS rebinding). Bodies are read up
to a size and the whole fetch is bounded in time; proxies from the environment are ignored.

`allowed_addresses` lets named non-public addresses through: only tests set it (a local server
on a loopback address); production refuses it in the settings.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import httpx

from core.errors import AppError

Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}


class UrlNotAllowedError(AppError):
    status_code = 422
    code = "url_not_allowed"


class UrlFetchFailedError(AppError):
    status_code = 422
    code = "url_fetch_failed"


class FetchedTooLargeError(AppError):
    status_code = 413
    code = "document_too_large"


@dataclass(frozen=True)
class Fetched:
    url: str
    content: bytes
    content_type: str | None


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(address: str, allowed: Collection[str] = ()) -> None:
    """Refuses every address that is not public, unless named in `allowed`."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in allowed:
        return
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        raise UrlNotAllowedError(
            "This URL points to a private or local network address; only public web pages can "
            "be fetched.",
            {"address": str(ip)},
        )


@dataclass
class SafeFetcher:
    max_bytes: int
    timeout_seconds: float = 20.0
    resolver: Resolver = system_resolver
    allowed_addresses: frozenset[str] = frozenset()
    # Tests pass a transport that records what would be connected to.
    transport: httpx.AsyncBaseTransport | None = None
    user_agent: str = "StudyPilot/1.0 (+study material ingestion)"
    # Off: nothing is resolved or fetched at all (a sandbox, the fuzzed test stack).
    enabled: bool = True

    async def fetch(self, url: str) -> Fetched:
        if not self.enabled:
            raise UrlNotAllowedError("Fetching URLs is turned off on this server.")
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._follow(httpx.URL(url))
        except TimeoutError as exc:
            raise UrlFetchFailedError(
                f"The page did not arrive within {self.timeout_seconds:g} seconds."
            ) from exc

    async def _follow(self, url: httpx.URL) -> Fetched:
        async with httpx.AsyncClient(
            transport=self.transport,
            follow_redirects=False,
            trust_env=False,
            timeout=self.timeout_seconds,
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                target = await self._checked_target(url)
                request = client.build_request(
                    "GET",
                    target,
                    headers={"Host": url.netloc.decode("ascii"), "User-Agent": self.user_agent},
                    extensions={"sni_hostname": url.host} if url.scheme == "https" else {},
                )
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise UrlFetchFailedError(f"The page could not be fetched ({exc}).") from exc
                try:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        url = url.join(response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise UrlFetchFailedError(
                            f"The page answered {response.status_code}.",
                            {"status": response.status_code},
                        )
                    content = await self._read(response)
                    return Fetched(str(url), content, response.headers.get("content-type"))
                finally:
                    await response.aclose()
        raise UrlFetchFailedError(f"More than {MAX_REDIRECTS} redirects.")

    async def _checked_target(self, url: httpx.URL) -> httpx.URL:
        if url.scheme not in ("http", "https"):
            raise UrlNotAllowedError("Only http and https URLs can be fetched.")
        if url.userinfo:
            raise UrlNotAllowedError("URLs with credentials are not fetched.")
        if not url.host:
            raise UrlNotAllowedError("The URL has no host.")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(url.host))]
        except ValueError:
            try:
                addresses = await self.resolver(url.host, port)
            except OSError as exc:
                raise UrlFetchFailedError(f"The host {url.host} could not be resolved.") from exc
        if not addresses:
            raise UrlFetchFailedError(f"The host {url.host} has no address.")
        for address in addresses:
            check_address(address, self.allowed_addresses)
        return url.copy_with(host=addresses[0].split("%", 1)[0])

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchedTooLargeError(
                f"The page is larger than {self.max_bytes} bytes.", {"max_bytes": self.max_bytes}
            )
        body = bytearray()
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) > self.max_bytes:
                raise FetchedTooLargeError(
                    f"The page is larger than {self.max_bytes} bytes.",
                    {"max_bytes": self.max_bytes},
                )
        return bytes(body)
