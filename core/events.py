"""The event bus: how something that happened reaches the student's live views.

Producers (domain services, workflow activities, chat turns) queue events on their unit of work
with `queue_event(session, event)`; they are published only once that transaction commits, so a
rolled-back write never announces itself. Consumers (the websocket) subscribe per user, from the
last event id they saw, and receive what they missed and then live events, in order.

Every event belongs to one user and is only ever delivered to that user's subscriptions.
"""

import asyncio
import functools
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings

# Keys in `Session.info`: the bus the session's sessionmaker publishes to, and the events queued
# by the current transaction.
EVENT_BUS_KEY = "event_bus"
_QUEUED_KEY = "queued_events"
# How many past events per user a reconnecting client can resume from.
HISTORY_PER_USER = 1000


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


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> list[str]:
        """Publish in order; return their ids."""
        ...

    def subscribe(
        self, user_id: UUID, *, after: str | None = None
    ) -> AsyncIterator[DeliveredEvent]:
        """The user's events after `after` (none when None), then live ones, in order, forever.
        Raises `ResyncRequiredError` when `after` is older than the kept history."""
        ...

    async def aclose(self) -> None: ...


def event_id_key(event_id: str) -> tuple[int, int]:
    """Ids are `<milliseconds>-<sequence>`, as Redis Streams writes them; this orders them."""
    millis, _, sequence = event_id.partition("-")
    return int(millis), int(sequence or 0)


@dataclass
class _UserLog:
    history: deque[DeliveredEvent] = field(default_factory=lambda: deque(maxlen=HISTORY_PER_USER))
    # The newest event pushed out of the history: resuming from before it would leave a gap.
    evicted_through: str | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class InProcessEventBus:
    """One process's bus: the same ids, history and resume semantics as the shared ones."""

    def __init__(self) -> None:
        self._logs: dict[UUID, _UserLog] = {}
        self._sequence = itertools.count()

    def _log(self, user_id: UUID) -> _UserLog:
        return self._logs.setdefault(user_id, _UserLog())

    async def publish(self, events: Sequence[Event]) -> list[str]:
        ids = []
        for event in events:
            delivered = DeliveredEvent(
                id=f"{time.time_ns() // 1_000_000}-{next(self._sequence)}",
                ts=datetime.now(UTC),
                event=event,
            )
            log = self._log(event.user_id)
            async with log.changed:
                if len(log.history) == log.history.maxlen:
                    log.evicted_through = log.history[0].id
                log.history.append(delivered)
                log.changed.notify_all()
            ids.append(delivered.id)
        return ids

    def subscribe(
        self, user_id: UUID, *, after: str | None = None
    ) -> AsyncIterator[DeliveredEvent]:
        # The starting point is fixed now, not at the first read: "live from here" must not
        # lose what is published between subscribing and reading.
        log = self._log(user_id)
        if after is None:
            after = log.history[-1].id if log.history else None
        elif log.evicted_through is not None and _is_after(log.evicted_through, after):
            raise ResyncRequiredError(after)
        return self._follow(log, after)

    @staticmethod
    async def _follow(log: _UserLog, last: str | None) -> AsyncIterator[DeliveredEvent]:
        while True:
            async with log.changed:
                await log.changed.wait_for(functools.partial(_has_after, log, last))
                pending = [e for e in log.history if _is_after(e.id, last)]
            for delivered in pending:
                last = delivered.id
                yield delivered

    async def aclose(self) -> None:
        self._logs.clear()


def _is_after(event_id: str, last: str | None) -> bool:
    return last is None or event_id_key(event_id) > event_id_key(last)


def _has_after(log: _UserLog, last: str | None) -> bool:
    return bool(log.history) and _is_after(log.history[-1].id, last)


def create_event_bus(settings: Settings) -> EventBus:
    del settings  # the shared backends are chosen from the settings
    return InProcessEventBus()


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
