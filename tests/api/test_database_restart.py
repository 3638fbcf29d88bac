"""The database restarts under load: no request after the restart gets a pooled connection the
restart closed, and a request that meets the database down answers 503, never 500."""

import asyncio
import shutil
from collections import Counter

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from api.app import create_app
from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres
from core.security import TokenCodec
from tests.fixtures.client import api_client
from tests.fixtures.database import server_tempdir
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user

CLIENTS = 4
LOAD_SECONDS = 1.5


async def test_a_database_restart_under_load_is_503_for_whoever_meets_it_and_never_500(
    settings: Settings, codec: TokenCodec
) -> None:
    data_dir = server_tempdir("studypilot-restart-")
    server = EmbeddedPostgres(data_dir)
    await asyncio.to_thread(server.start)
    try:
        await ensure_database(server.url("postgres", "postgresql"), "restart")
        url = server.url("restart")
        await asyncio.to_thread(migrate.upgrade, url)
        seeding = create_async_engine(url)
        async with AsyncSession(seeding, expire_on_commit=False) as session:
            user = await create_user(session)
            await create_goal(session, user.id)
        await seeding.dispose()
        served = settings.model_copy(
            update={"database_url": url, "db_pool_size": CLIENTS, "db_max_overflow": 0}
        )
        app = create_app(served)
        headers = auth_headers(codec, user)
        async with LifespanManager(app), api_client(app) as client:
            statuses = await _load_across_a_restart(client, headers, server)
            # Every pooled connection was closed by the restart; none was handed out again.
            assert set(statuses["before"]) == {(200, None)}
            assert statuses["after"] == Counter({(200, None): sum(statuses["after"].values())})
            assert sum(statuses["after"].values()) >= CLIENTS

            await asyncio.to_thread(server.stop)
            down = await client.get("/goals", headers=headers)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "database_unavailable"
            assert down.headers["Retry-After"] == "1"
            await asyncio.to_thread(server.start)
            assert (await client.get("/goals", headers=headers)).status_code == 200
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _load_across_a_restart(
    client: httpx.AsyncClient, headers: dict[str, str], server: EmbeddedPostgres
) -> dict[str, Counter[tuple[int, str | None]]]:
    statuses: dict[str, Counter[tuple[int, str | None]]] = {"before": Counter(), "after": Counter()}
    phase = "before"
    serving = asyncio.Event()
    serving.set()
    done = asyncio.Event()

    async def student() -> None:
        while not done.is_set():
            await serving.wait()
            response = await client.get("/goals", headers=headers)
            code = None if response.status_code == 200 else response.json()["code"]
            statuses[phase][(response.status_code, code)] += 1

    students = [asyncio.create_task(student()) for _ in range(CLIENTS)]
    await asyncio.sleep(LOAD_SECONDS)
    serving.clear()
    await asyncio.sleep(0.2)  # requests already sent finish on the running database
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    phase = "after"
    serving.set()
    await asyncio.sleep(LOAD_SECONDS)
    done.set()
    await asyncio.gather(*students)
    return statuses
