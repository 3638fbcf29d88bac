import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from core.config import Settings
from tests.fixtures.client import TEST_SECRET


async def test_health_reports_ok_with_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "components": {"database": "ok"}}
    assert response.headers["X-Request-ID"]


async def test_health_is_503_in_both_shapes_when_the_database_is_down() -> None:
    # Port 1 on loopback: nothing listens, so every connection is refused at once.
    settings = Settings(
        env="test",
        database_url="postgresql+asyncpg://nobody:x@127.0.0.1:1/none",
        jwt_secret=TEST_SECRET,
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["components"] == {"database": "error"}
    assert body["code"] == "service_unavailable"
    assert "database" in body["message"]


async def test_health_checks_redis_when_configured(database_url: str) -> None:
    settings = Settings(
        env="test",
        database_url=database_url,
        redis_url="redis://127.0.0.1:1/0",
        jwt_secret=TEST_SECRET,
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["components"] == {"database": "ok", "redis": "error"}
