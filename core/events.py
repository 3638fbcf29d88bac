"""The event bus: how something that happened reaches the student's live views.

Producers (domain services, workflow activities, chat turns) queue events on their unit of work
with `queue_event(session, event)`; they are published only once that transaction commits, so a
rolled-back write never announces itself. Consumers (the websocket) subscribe per user, from the
last event id they saw, and receive what they missed and then live events, in order.

Every event belongs to one user and is only ever delivered to that user's subscriptions.

Two backends share one behaviour (and one contract test suite): Redis Streams when `REDIS_URL`
is set, Postgres (an events table + LISTEN/NOTIFY) otherwise. Both are shared by every process
that uses the same store, so an event published by a workflow worker reaches a socket held by
any API process. See docs/realtime.md.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings

# Keys in `Session.info`: the bus the session's sessionmaker publishes to, and the events queued
# by the current transaction.
EVENT_BUS_KEY = "event_bus"
_QUEUED_KEY = "queued_events"


@dataclass(frozen=True)
class Event:
    """Something that happened to one user. `topic` is what a socket subscribes to
    (`notifications`, `progress`, `plans`, `conversation:<id>`, ...); `type` names the message
    (`notification`, `progress.updated`, ...); `data` is its JSON-ready payload."""

    user_id: UUID
    topic: str
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class DeliveredEvent:
    """An event as published: `id` orders a user's events (compare with `event_id_key`)."""

    id: str
    ts: datetime
    event: Event


class ResyncRequiredError(Exception):
    """The requested last event id is older than the history kept: the client must refetch."""


class SlowConsumerError(Exception):
    """A subscriber fell further behind than its bounded queue: it must resume from its last id
    rather than make the process buffer without bound."""


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> list[str]:
        """Publish in order; return their ids."""
        ...

    def subscribe(
        self, user_id: UUID, *, after: str | None = None
    ) -> AsyncIterator[DeliveredEvent]:
        """The user's events after `after`, then live ones, in order, forever. With `after`
        None, live events from when iteration starts (pass `last_event_id()` to pin it sooner).
        Iterating raises `ResyncRequiredError` when `after` is older than the kept history and
        `SlowConsumerError` when the subscriber fell too far behind."""
        ...

    async def last_event_id(self, user_id: UUID) -> str:
        """The id of the user's newest event (`0-0` when none): a position to subscribe after."""
        ...

    async def aclose(self) -> None: ...


def event_id_key(event_id: str) -> tuple[int, int]:
    """Ids are `<milliseconds>-<sequence>`, as Redis Streams writes them; this orders them."""
    millis, _, sequence = event_id.partition("-")
    return int(millis), int(sequence or 0)


def create_event_bus(settings: Settings) -> EventBus:
    """Redis Streams when `REDIS_URL` is set, else the Postgres the app already needs."""
    # Imported here: each backend pulls in its client library only when chosen.
    if settings.redis_url is not None:
        from core.events_redis import RedisEventBus

        return RedisEventBus(
            settings.redis_url,
            history=settings.realtime_history_events,
            retention_seconds=settings.realtime_history_seconds,
            queue_size=settings.realtime_subscriber_queue,
        )
    from core.events_postgres import PostgresEventBus

    if settings.database_url is None:
        raise RuntimeError("the event bus needs REDIS_URL or DATABASE_URL")
    return PostgresEventBus(
        settings.database_url,
        history=settings.realtime_history_events,
        retention_seconds=settings.realtime_history_seconds,
        queue_size=settings.realtime_subscriber_queue,
    )


def queue_event(session: AsyncSession, event: Event) -> None:
    """Publish `event` once the session's transaction commits; drop it if it rolls back."""
    session.info.setdefault(_QUEUED_KEY, []).append(event)


def discard_queued_events(session: AsyncSession) -> None:
    session.info.pop(_QUEUED_KEY, None)


async def publish_queued_events(session: AsyncSession) -> None:
    """Called by the units of work right after a commit."""
    events: list[Event] = session.info.pop(_QUEUED_KEY, [])
    if not events:
        return
    bus: EventBus | None = session.info.get(EVENT_BUS_KEY)
    if bus is None:
        raise RuntimeError("events were queued on a session whose sessionmaker has no event bus")
    await bus.publish(events)
