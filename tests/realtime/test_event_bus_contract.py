"""One contract, every backend: Redis Streams and Postgres (the default without Redis).

Each test runs against both, with two bus instances where it matters: they share nothing but
the store, as two processes would.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from core.events import (
    DeliveredEvent,
    Event,
    EventBus,
    ResyncRequiredError,
    SlowConsumerError,
    event_id_key,
)
from core.events_postgres import PostgresEventBus
from core.events_redis import RedisEventBus
from tests.realtime.conftest import REDIS_URL

RETENTION_SECONDS = 3600


@dataclass
class BusKit:
    make: Callable[[int, int], EventBus]
    new_user: Callable[[], Awaitable[uuid.UUID]]
    buses: list[EventBus] = field(default_factory=list)

    def bus(self, history: int = 1000, queue_size: int = 100) -> EventBus:
        bus = self.make(history, queue_size)
        self.buses.append(bus)
        return bus


async def new_user() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture(params=["redis", "postgres"])
async def kit(request: pytest.FixtureRequest, realtime_database_url: str) -> AsyncIterator[BusKit]:
    if request.param == "redis":
        prefix = f"studypilot-test:{uuid.uuid4().hex}:"

        def make(history: int, queue_size: int) -> EventBus:
            return RedisEventBus(
                REDIS_URL,
                history=history,
                retention_seconds=RETENTION_SECONDS,
                queue_size=queue_size,
                key_prefix=prefix,
            )

        kit = BusKit(make, new_user)
    else:

        def make(history: int, queue_size: int) -> EventBus:
            return PostgresEventBus(
                realtime_database_url,
                history=history,
                retention_seconds=RETENTION_SECONDS,
                queue_size=queue_size,
            )

        kit = BusKit(make, new_user)
    yield kit
    for bus in kit.buses:
        await bus.aclose()


def _event(user_id: uuid.UUID, n: int, topic: str = "progress") -> Event:
    return Event(user_id=user_id, topic=topic, type="progress.updated", data={"n": n})


async def _take(events: AsyncIterator[DeliveredEvent], count: int) -> list[DeliveredEvent]:
    async def take() -> list[DeliveredEvent]:
        return [await anext(events) for _ in range(count)]

    return await asyncio.wait_for(take(), timeout=10)


async def _live(bus: EventBus, user_id: uuid.UUID) -> AsyncIterator[DeliveredEvent]:
    """A subscription pinned to now, so what is published next is certainly seen."""
    return bus.subscribe(user_id, after=await bus.last_event_id(user_id))


async def test_a_subscriber_gets_live_events_in_order_and_only_its_own(kit: BusKit) -> None:
    bus = kit.bus()
    alice, mallory = await kit.new_user(), await kit.new_user()
    stream = await _live(bus, alice)
    reader = asyncio.create_task(_take(stream, 3))
    await bus.publish([_event(alice, 1), _event(mallory, 99), _event(alice, 2)])
    await bus.publish([_event(alice, 3)])
    received = await reader
    assert [d.event.data["n"] for d in received] == [1, 2, 3]
    assert all(d.event.user_id == alice for d in received)
    keys = [event_id_key(d.id) for d in received]
    assert keys == sorted(keys)
    assert len(set(keys)) == 3


async def test_an_event_published_by_one_instance_reaches_a_subscriber_on_another(
    kit: BusKit,
) -> None:
    publisher, listener = kit.bus(), kit.bus()
    user = await kit.new_user()
    stream = await _live(listener, user)
    reader = asyncio.create_task(_take(stream, 2))
    ids = await publisher.publish([_event(user, 1), _event(user, 2, topic="notifications")])
    received = await reader
    assert [d.id for d in received] == ids
    assert [d.event.topic for d in received] == ["progress", "notifications"]
    assert received[0].event == _event(user, 1)


async def test_resume_replays_what_was_missed_without_gaps_or_duplicates(kit: BusKit) -> None:
    bus = kit.bus()
    user = await kit.new_user()
    ids = await bus.publish([_event(user, n) for n in range(5)])
    stream = bus.subscribe(user, after=ids[1])
    replayed = await _take(stream, 3)
    assert [d.id for d in replayed] == ids[2:]
    # Then live, with nothing repeated.
    more = await bus.publish([_event(user, 5), _event(user, 6)])
    assert [d.id for d in await _take(stream, 2)] == more


async def test_a_second_subscriber_joins_a_followed_user_with_its_own_replay(
    kit: BusKit,
) -> None:
    bus = kit.bus()
    user = await kit.new_user()
    first = await _live(bus, user)
    first_reader = asyncio.create_task(_take(first, 6))
    ids = await bus.publish([_event(user, n) for n in range(4)])
    second = bus.subscribe(user, after=ids[0])
    assert [d.id for d in await _take(second, 3)] == ids[1:]
    later = await bus.publish([_event(user, 4), _event(user, 5)])
    assert [d.id for d in await _take(second, 2)] == later
    assert [d.id for d in await first_reader] == ids + later


async def test_a_long_replay_is_read_in_pages_in_order(kit: BusKit) -> None:
    bus = kit.bus(history=5000, queue_size=2000)
    user = await kit.new_user()
    ids = await bus.publish([_event(user, n) for n in range(1200)])
    replayed = await _take(bus.subscribe(user, after="0-0"), 1200)
    assert [d.id for d in replayed] == ids


async def test_resume_from_a_trimmed_id_requires_a_resync(kit: BusKit) -> None:
    bus = kit.bus(history=50)
    user = await kit.new_user()
    ids = await bus.publish([_event(user, n) for n in range(300)])
    with pytest.raises(ResyncRequiredError):
        await _take(bus.subscribe(user, after=ids[0]), 1)
    # A recent id is still a valid resume point.
    received = await _take(bus.subscribe(user, after=ids[-10]), 9)
    assert [d.id for d in received] == ids[-9:]


async def test_a_subscriber_that_falls_behind_its_queue_is_told_so(kit: BusKit) -> None:
    bus = kit.bus(queue_size=5)
    user = await kit.new_user()
    stream = await _live(bus, user)
    reader = asyncio.create_task(_take(stream, 1))
    await bus.publish([_event(user, 0)])
    await reader
    # Not consumed while fifty more arrive.
    await bus.publish([_event(user, n) for n in range(1, 51)])
    with pytest.raises(SlowConsumerError):
        await asyncio.wait_for(_drain(stream), timeout=10)


async def _drain(stream: AsyncIterator[DeliveredEvent]) -> None:
    await asyncio.sleep(0.5)  # the reader has fanned out all fifty by now
    async for _ in stream:
        pass


async def test_a_process_that_reads_after_its_events_were_trimmed_resyncs_without_a_gap(
    kit: BusKit,
) -> None:
    bus = kit.bus(history=50, queue_size=1000)
    user = await kit.new_user()
    stream = await _live(bus, user)
    reader = asyncio.create_task(_take(stream, 1))
    [first] = await bus.publish([_event(user, 0)])
    assert [d.id for d in await reader] == [first]
    # Six times the history, published by another process while this one is too busy to read:
    # most are trimmed before it reads any of them.
    ids = _publish_blocking(kit, [_event(user, n) for n in range(1, 301)])
    received: list[str] = []
    with pytest.raises(ResyncRequiredError) as resync:
        await asyncio.wait_for(_collect(stream, received), timeout=10)
    # Whatever came before the resync was the next events in order, never a jump; the resync
    # names the last event handed out.
    assert received == ids[: len(received)]
    assert resync.value.args == ((received or [first])[-1],)


def _publish_blocking(kit: BusKit, events: list[Event]) -> list[str]:
    """Publish from a bus of its own in another thread, holding this event loop until done."""
    published: list[str] = []

    async def publish() -> None:
        publisher = kit.make(50, 1000)
        try:
            published.extend(await publisher.publish(events))
        finally:
            await publisher.aclose()

    thread = threading.Thread(target=asyncio.run, args=(publish(),))
    thread.start()
    thread.join()  # blocks this loop on purpose: its reader must fall behind
    assert len(published) == len(events)
    return published


async def _collect(stream: AsyncIterator[DeliveredEvent], into: list[str]) -> None:
    async for delivered in stream:
        into.append(delivered.id)


async def test_concurrent_publishers_give_one_user_unique_ordered_ids(kit: BusKit) -> None:
    first, second = kit.bus(), kit.bus()
    user = await kit.new_user()
    stream = await _live(first, user)
    reader = asyncio.create_task(_take(stream, 40))
    batches = await asyncio.gather(
        *(
            bus.publish([_event(user, n)])
            for n in range(40)
            for bus in ([first] if n % 2 else [second])
        )
    )
    received = await reader
    published = {event_id for batch in batches for event_id in batch}
    assert len(published) == 40
    assert {d.id for d in received} == published
    keys = [event_id_key(d.id) for d in received]
    assert keys == sorted(keys)


async def test_last_event_id_is_the_newest(kit: BusKit) -> None:
    bus = kit.bus()
    user = await kit.new_user()
    assert await bus.last_event_id(user) == "0-0"
    ids = await bus.publish([_event(user, 1), _event(user, 2)])
    assert await bus.last_event_id(user) == ids[-1]
