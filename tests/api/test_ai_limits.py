"""Per-user AI limits hold across API instances: both apps here share one real Redis."""

from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted
from tests.support.scripted_openai import Answer, ScriptedOpenAI

REDIS_URL = "redis://127.0.0.1:6379/15"


async def _two_instances(
    stack: AsyncExitStack, settings: Settings, db_session: AsyncSession
) -> list[httpx.AsyncClient]:
    clients = []
    for _ in range(2):
        app = await stack.enter_async_context(running_app(settings, db_session))
        assert app.state.rate_limiter.backend == "redis"
        app.state.chat_models.with_model("chat", scripted(*["Fine."] * 5))
        clients.append(await stack.enter_async_context(api_client(app)))
    return clients


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_url": REDIS_URL, "ai_requests_per_minute": 3})


async def test_requests_per_minute_are_shared_between_instances(
    redis_settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    async with AsyncExitStack() as stack:
        first, second = await _two_instances(stack, redis_settings, db_session)
        headers = auth_headers(codec, user)
        for client in (first, second, first):
            answer = await client.post("/ai/chat", headers=headers, json={"message": "hi"})
            assert answer.status_code == 200, answer.text

        limited = await second.post("/ai/chat", headers=headers, json={"message": "hi"})
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Limits are per user.
        other_user = await second.post(
            "/ai/chat", headers=auth_headers(codec, other), json={"message": "hi"}
        )
        assert other_user.status_code == 200


async def test_the_daily_token_budget_counts_what_the_provider_reported(
    settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    with ScriptedOpenAI(replies=[Answer("A long enough answer to spend the budget.")]) as server:
        budgeted = settings.model_copy(
            update={
                "redis_url": REDIS_URL,
                "openai_base_url": server.base_url,
                "openai_api_key": "test-key",
                "llm_model": "gpt-test",
                "ai_tokens_per_day": 20,
            }
        )
        async with running_app(budgeted, db_session) as app, api_client(app) as client:
            headers = auth_headers(codec, user)
            spent = await client.post("/ai/chat", headers=headers, json={"message": "hi"})
            assert spent.status_code == 200, spent.text
            refused = await client.post("/ai/chat", headers=headers, json={"message": "hi"})
            assert_error(refused, 429, "rate_limited")
            # Refused before reaching the provider.
            assert len(server.requests) == 1
