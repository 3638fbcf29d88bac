"""Events queued on a unit of work are published when it commits, dropped when it rolls back.
(Delivery itself is the bus contract, run over every backend in tests/realtime.)"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import create_sessionmaker, unit_of_work
from core.events import DeliveredEvent, Event, queue_event
from core.events_redis import RedisEventBus
from tests.realtime.conftest import REDIS_URL


@pytest.fixture
async def bus() -> AsyncIterator[RedisEventBus]:
    bus = RedisEventBus(
        REDIS_URL,
        history=100,
        retention_seconds=3600,
        queue_size=10,
        key_prefix=f"studypilot-test:{uuid.uuid4().hex}:",
    )
    yield bus
    await bus.aclose()


async def _take(events: AsyncIterator[DeliveredEvent], count: int) -> list[DeliveredEvent]:
    async def take() -> list[DeliveredEvent]:
        return [await anext(events) for _ in range(count)]

    return await asyncio.wait_for(take(), timeout=5)


async def test_queued_events_are_published_on_commit_and_dropped_on_rollback(
    engine: AsyncEngine, bus: RedisEventBus
) -> None:
    sessionmaker = create_sessionmaker(engine, bus)
    user = uuid.uuid4()
    stream = bus.subscribe(user, after=await bus.last_event_id(user))
    reader = asyncio.create_task(_take(stream, 1))

    def event(n: int) -> Event:
        return Event(user_id=user, topic="progress", type="progress.updated", data={"n": n})

    async def fail_after_queueing() -> None:
        async with unit_of_work(sessionmaker) as session:
            queue_event(session, event(1))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_after_queueing()
    async with unit_of_work(sessionmaker) as session:
        queue_event(session, event(2))
        # Not before the commit.
        await asyncio.sleep(0.05)
        assert not reader.done()

    received = await reader
    assert [d.event.data["n"] for d in received] == [2]
