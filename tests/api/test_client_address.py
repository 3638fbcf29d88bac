"""Per-client limits key on the real client: the peer, or what a trusted proxy forwards.

A forwarded header from a peer that is not a trusted proxy is ignored, so a client cannot pick a
fresh throttling key per request.
"""

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app

_emails = (f"reg{n}@example.com" for n in itertools.count())

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def _client_with(settings: Settings, db_session: AsyncSession) -> ClientFactory:
    @asynccontextmanager
    async def make(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        configured = settings.model_copy(
            update={"register_limit_per_client": "2/hour", **overrides}
        )
        async with running_app(configured, db_session) as app, api_client(app) as client:
            yield client

    return make


async def _register(client: httpx.AsyncClient, forwarded_for: str | None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post(
        "/auth/register",
        json={"email": next(_emails), "password": "long enough pw"},
        headers=headers,
    )


async def test_registration_is_throttled_per_client(
    settings: Settings, db_session: AsyncSession
) -> None:
    async with _client_with(settings, db_session)() as client:
        assert (await _register(client, None)).status_code == 201
        assert (await _register(client, None)).status_code == 201
        refused = await _register(client, None)
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 0


async def test_a_spoofed_forwarded_header_from_an_untrusted_peer_is_ignored(
    settings: Settings, db_session: AsyncSession
) -> None:
    # The test transport's peer is 127.0.0.1; only 10.0.0.0/8 is trusted.
    async with _client_with(settings, db_session)(trusted_proxies=["10.0.0.0/8"]) as client:
        assert (await _register(client, "203.0.113.1")).status_code == 201
        assert (await _register(client, "203.0.113.2")).status_code == 201
        assert_error(await _register(client, "203.0.113.3"), 429, "rate_limited")


async def test_a_trusted_proxy_forwards_each_clients_own_address(
    settings: Settings, db_session: AsyncSession
) -> None:
    async with _client_with(settings, db_session)(trusted_proxies=["127.0.0.1"]) as client:
        for _ in range(2):
            assert (await _register(client, "203.0.113.1")).status_code == 201
        assert_error(await _register(client, "203.0.113.1"), 429, "rate_limited")
        # Another client behind the same proxy has its own budget...
        assert (await _register(client, "203.0.113.2")).status_code == 201
        # ...and a client cannot prepend a fake hop: the proxy's own entry is the one believed.
        assert_error(await _register(client, "198.51.100.7, 203.0.113.1"), 429, "rate_limited")


async def test_login_throttle_keys_on_the_forwarded_client(
    settings: Settings, db_session: AsyncSession
) -> None:
    async with _client_with(settings, db_session)(
        trusted_proxies=["127.0.0.0/8"], login_limit_per_client="2/minute"
    ) as client:

        async def login(forwarded_for: str) -> int:
            response = await client.post(
                "/auth/login",
                json={"email": "nobody@example.com", "password": "wrong password"},
                headers={"X-Forwarded-For": forwarded_for},
            )
            return response.status_code

        assert [await login("203.0.113.9") for _ in range(3)] == [401, 401, 429]
        assert await login("203.0.113.10") == 401
