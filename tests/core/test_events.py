import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import core.events
from core.db import create_sessionmaker, unit_of_work
from core.events import (
    DeliveredEvent,
    Event,
    InProcessEventBus,
    ResyncRequiredError,
    queue_event,
)


def _event(user_id: uuid.UUID, n: int, topic: str = "progress") -> Event:
    return Event(user_id=user_id, topic=topic, type="progress.updated", data={"n": n})


async def _take(events: AsyncIterator[DeliveredEvent], count: int) -> list[DeliveredEvent]:
    async def take() -> list[DeliveredEvent]:
        return [await anext(events) for _ in range(count)]

    return await asyncio.wait_for(take(), timeout=5)


async def test_a_subscriber_gets_live_events_in_order_and_only_its_own() -> None:
    bus = InProcessEventBus()
    alice, mallory = uuid.uuid4(), uuid.uuid4()
    stream = bus.subscribe(alice)
    reader = asyncio.create_task(_take(stream, 3))
    await asyncio.sleep(0)
    await bus.publish([_event(alice, 1), _event(mallory, 99), _event(alice, 2)])
    await bus.publish([_event(alice, 3)])
    received = await reader
    assert [d.event.data["n"] for d in received] == [1, 2, 3]
    assert all(d.event.user_id == alice for d in received)
    keys = [core.events.event_id_key(d.id) for d in received]
    assert keys == sorted(keys)
    assert len(set(keys)) == 3


async def test_resume_replays_what_was_missed_without_gaps_or_duplicates() -> None:
    bus = InProcessEventBus()
    user = uuid.uuid4()
    ids = await bus.publish([_event(user, n) for n in range(5)])
    received = await _take(bus.subscribe(user, after=ids[1]), 3)
    assert [d.id for d in received] == ids[2:]


async def test_resume_from_an_evicted_id_requires_a_resync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.events, "HISTORY_PER_USER", 3)
    bus = InProcessEventBus()
    user = uuid.uuid4()
    ids = await bus.publish([_event(user, n) for n in range(5)])
    with pytest.raises(ResyncRequiredError):
        bus.subscribe(user, after=ids[0])
    # The oldest id still kept is a valid resume point.
    received = await _take(bus.subscribe(user, after=ids[2]), 2)
    assert [d.id for d in received] == ids[3:]


async def test_queued_events_are_published_on_commit_and_dropped_on_rollback(
    engine: AsyncEngine,
) -> None:
    bus = InProcessEventBus()
    sessionmaker = create_sessionmaker(engine, bus)
    user = uuid.uuid4()
    stream = bus.subscribe(user)
    reader = asyncio.create_task(_take(stream, 1))
    await asyncio.sleep(0)

    async def fail_after_queueing() -> None:
        async with unit_of_work(sessionmaker) as session:
            queue_event(session, _event(user, 1))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_after_queueing()
    async with unit_of_work(sessionmaker) as session:
        queue_event(session, _event(user, 2))
        # Not before the commit.
        await asyncio.sleep(0.05)
        assert not reader.done()

    received = await reader
    assert [d.event.data["n"] for d in received] == [2]
