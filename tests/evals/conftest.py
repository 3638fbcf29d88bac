"""Running suites in tests: a fresh world database per run, results in the test's transaction."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from domain.embeddings.runtime import EmbeddingRuntime
from evals.cases import LoadedCase
from evals.database import fresh_database
from evals.runner import RunOptions, RunSummary, run_suite
from tests.fixtures.database import sessionmaker_for
from tests.fixtures.embeddings import TEST_MODEL_ID, HashingEmbedder

RunSuite = Callable[..., Awaitable[RunSummary]]


@pytest.fixture
async def world_url(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url) as url:
        yield url


@pytest.fixture
def run(settings: Settings, world_url: str, db_session: AsyncSession) -> RunSuite:
    """Runs a suite with the scripted model; results land in the test's rolled-back session.
    The hashing embedder keeps CI fast; `studypilot evals run` uses the configured one."""

    async def run_with(
        options: RunOptions, cases: Sequence[LoadedCase] | None = None
    ) -> RunSummary:
        return await run_suite(
            options,
            settings=settings,
            world_url=world_url,
            results=sessionmaker_for(db_session),  # type: ignore[arg-type]
            embedding=EmbeddingRuntime(HashingEmbedder(), TEST_MODEL_ID),
            cases=cases,
        )

    return run_with
