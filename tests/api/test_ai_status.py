import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from agents.llm import DEFAULT_OPENAI_MODEL
from core.config import Settings
from core.security import TokenCodec
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app
from tests.fixtures.factories.users import auth_headers, create_user


async def test_status_without_any_provider_names_no_model(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get("/ai/status", headers=auth_headers(codec, user))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "not_configured"
    assert body["provider"] is None
    assert set(body["tasks"]) == {"chat", "summary", "plan", "recommend", "judge"}
    assert all(
        task == {"model": None, "source": None, "ready": False} for task in body["tasks"].values()
    )


async def test_status_names_each_tasks_model_and_never_the_key(
    settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    configured = settings.model_copy(
        update={"openai_api_key": SecretStr("sk-very-secret"), "llm_plan_model": "gpt-planner"}
    )
    user = await create_user(db_session)
    async with running_app(configured, db_session) as app, api_client(app) as client:
        response = await client.get("/ai/status", headers=auth_headers(codec, user))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["provider"] == "openai"
    assert body["tasks"]["chat"] == {
        "model": DEFAULT_OPENAI_MODEL,
        "source": "default",
        "ready": True,
    }
    assert body["tasks"]["plan"] == {
        "model": "gpt-planner",
        "source": "STUDYPILOT_LLM_PLAN_MODEL",
        "ready": True,
    }
    assert "sk-very-secret" not in response.text


async def test_status_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/ai/status"), 401, "unauthorized")
