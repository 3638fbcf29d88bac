"""What the realtime tests share: a database of their own (the servers under test commit for
real, from their own connections, so the rolled-back test transaction cannot hold their rows),
the machine's Redis, and users written there for real."""

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core import migrate
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres
from tests.fixtures.factories.users import DEFAULT_PASSWORD

REDIS_URL = "redis://127.0.0.1:6379/0"
REALTIME_DATABASE = "studypilot_realtime_test"
_emails = itertools.count()


@pytest.fixture(scope="session")
async def realtime_database_url(postgres: EmbeddedPostgres) -> str:
    await ensure_database(postgres.url("postgres", "postgresql"), REALTIME_DATABASE)
    url = postgres.url(REALTIME_DATABASE)
    await asyncio.to_thread(migrate.upgrade, url)
    return url


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


def new_email() -> str:
    return f"rt-{uuid.uuid4().hex[:12]}-{next(_emails)}@example.com"


PASSWORD = DEFAULT_PASSWORD
