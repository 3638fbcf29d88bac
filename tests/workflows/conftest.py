from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from core.config import Settings
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.client import TEST_EMBEDDING_MODEL, api_client
from tests.fixtures.embeddings import HashingEmbedder


@pytest.fixture
async def workflow_app(
    temporal_settings: Settings, live_db: AsyncSession
) -> AsyncIterator[FastAPI]:
    """The app as in production (own engine, real commits) with Temporal configured: requests
    start real workflows, which a worker on the test's task queue runs against committed rows."""
    application = create_app(temporal_settings)
    async with LifespanManager(application):
        EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL).attach(application.state)
        yield application


@pytest.fixture
async def workflow_client(workflow_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(workflow_app) as client:
        yield client


@pytest.fixture
async def workflow_client_for(
    live_db: AsyncSession,
) -> AsyncIterator[Callable[[Settings], Awaitable[httpx.AsyncClient]]]:
    """Like `workflow_client`, for settings the test chooses."""
    async with AsyncExitStack() as stack:

        async def make(settings: Settings) -> httpx.AsyncClient:
            application = create_app(settings)
            await stack.enter_async_context(LifespanManager(application))
            EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL).attach(application.state)
            return await stack.enter_async_context(api_client(application))

        yield make
