"""The refresh reuse grace window: two tabs refreshing at once both stay signed in, while a
token replayed after the window still ends the whole family.

The concurrent tests run the app on its own connection pool with real commits (the rolled-back
shared-connection harness serialises requests on one connection), so the second request really
waits on the first one's row lock.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from core.config import Settings
from domain.auth.models import RefreshToken
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import DEFAULT_PASSWORD, create_user

PASSWORD = DEFAULT_PASSWORD


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token})


async def _refresh_timed(
    client: httpx.AsyncClient, token: str
) -> tuple[httpx.Response, float, float]:
    started = time.monotonic()
    response = await _refresh(client, token)
    return response, started, time.monotonic()


async def test_a_second_use_within_the_window_yields_the_same_successor(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="tabs@example.com")
    first = await _login(client, "tabs@example.com")

    one = await _refresh(client, first["refresh_token"])
    two = await _refresh(client, first["refresh_token"])
    assert one.status_code == 200, one.text
    assert two.status_code == 200, two.text
    assert two.json()["refresh_token"] == one.json()["refresh_token"]
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {two.json()['access_token']}"}
    )
    assert me.status_code == 200
    # Exactly one successor was made, and the session goes on from it.
    rows = (await db_session.scalars(select(RefreshToken))).all()
    assert len(rows) == 2
    onwards = await _refresh(client, one.json()["refresh_token"])
    assert onwards.status_code == 200, onwards.text


async def test_a_second_use_after_the_window_revokes_the_family(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await create_user(db_session, email="late@example.com")
    first = await _login(client, "late@example.com")
    successor = (await _refresh(client, first["refresh_token"])).json()
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.used_at.is_not(None))
        .values(
            used_at=RefreshToken.used_at
            - timedelta(seconds=settings.refresh_reuse_grace_seconds + 1)
        )
    )

    reused = await _refresh(client, first["refresh_token"])
    assert_error(reused, 401, "token_reused")
    assert_error(await _refresh(client, successor["refresh_token"]), 401, "invalid_token")


async def test_a_revoked_successor_is_not_handed_out_again(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="out@example.com")
    first = await _login(client, "out@example.com")
    successor = (await _refresh(client, first["refresh_token"])).json()
    logout = await client.post(
        "/auth/logout",
        json={"refresh_token": successor["refresh_token"]},
        headers={"Authorization": f"Bearer {successor['access_token']}"},
    )
    assert logout.status_code == 204
    assert_error(await _refresh(client, first["refresh_token"]), 401, "invalid_token")


@pytest.fixture
async def committing_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The app on its own pool, committing for real; its users are deleted afterwards."""
    marker = uuid.uuid4().hex[:12]
    app = create_app(settings)
    app.state.test_email_domain = f"{marker}.example.com"
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
            try:
                yield client, app
            finally:
                async with engine.begin() as connection:
                    await connection.execute(
                        delete(User).where(User.email.like(f"%@{marker}.example.com"))
                    )


async def _register_and_login(client: httpx.AsyncClient, app: FastAPI) -> dict[str, str]:
    email = f"{uuid.uuid4().hex[:8]}@{app.state.test_email_domain}"
    created = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return await _login(client, email)


async def test_concurrent_refreshes_within_the_window_both_succeed(
    committing_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = committing_client
    for _ in range(3):
        pair = await _register_and_login(client, app)
        (one, start_one, end_one), (two, start_two, end_two) = await asyncio.gather(
            _refresh_timed(client, pair["refresh_token"]),
            _refresh_timed(client, pair["refresh_token"]),
        )
        # Both were in flight at once, each on its own pooled connection.
        assert start_two < end_one
        assert start_one < end_two
        assert [one.status_code, two.status_code] == [200, 200], (one.text, two.text)
        assert one.json()["refresh_token"] == two.json()["refresh_token"]
        # The shared successor is alive: the student stays signed in in both tabs.
        onwards = await _refresh(client, one.json()["refresh_token"])
        assert onwards.status_code == 200, onwards.text


async def test_concurrent_refreshes_without_a_window_end_the_session(
    settings: Settings, engine: AsyncEngine
) -> None:
    # The behaviour the window exists to prevent: one request wins, the other revokes the family.
    marker = uuid.uuid4().hex[:12]
    app = create_app(settings.model_copy(update={"refresh_reuse_grace_seconds": 0}))
    app.state.test_email_domain = f"{marker}.example.com"
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test/api/v1"
            ) as client:
                pair = await _register_and_login(client, app)
                responses = await asyncio.gather(
                    _refresh(client, pair["refresh_token"]),
                    _refresh(client, pair["refresh_token"]),
                )
                assert sorted(r.status_code for r in responses) == [200, 401]
                winner = next(r for r in responses if r.status_code == 200)
                loser = next(r for r in responses if r.status_code == 401)
                assert_error(loser, 401, "token_reused")
                after = await _refresh(client, winner.json()["refresh_token"])
                assert_error(after, 401, "invalid_token")
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(User).where(User.email.like(f"%@{marker}.example.com")))
