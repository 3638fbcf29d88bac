from datetime import UTC, datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.app import create_app
from core.config import Settings
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually


async def test_health_reports_temporal_and_when_each_worker_last_polled(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    idle = await workflow_client.get("/health")
    assert idle.status_code == 200, idle.text
    assert idle.json() == {
        "status": "ok",
        "components": {"database": "ok", "temporal": "ok"},
        "workers": [],
    }

    async def workers() -> list[dict[str, str]]:
        body = (await workflow_client.get("/health")).json()
        polls: list[dict[str, str]] = body["workers"]
        return polls

    async with running_worker(temporal_settings, temporal_client):
        [worker] = await eventually(workers)
    assert worker["identity"]
    last_poll = datetime.fromisoformat(worker["last_poll_at"])
    assert datetime.now(UTC) - last_poll < timedelta(seconds=30)


async def test_health_is_503_when_temporal_is_down(settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there.
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["components"] == {"database": "ok", "temporal": "error"}
    assert (body["code"], body["workers"]) == ("service_unavailable", [])
