"""What the shared event buses have in common: one reader per process, fanned out to bounded
per-subscriber queues, and the replay-then-live hand-over that makes resume gap- and
duplicate-free.

A process follows each user that has local subscribers from one cursor (the newest id it has
read for them). A subscriber joins at that cursor, reads what it missed up to there from the
store, then takes live events from its queue, skipping anything not newer than what it yielded.
"""

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from core.events import (
    DeliveredEvent,
    Event,
    ResyncRequiredError,
    SlowConsumerError,
    event_id_key,
)

# The position before every event.
ORIGIN = "0-0"
# Events read from the store per round trip, for replay and for the live reader.
PAGE_SIZE = 500


class Subscription:
    """One subscriber's bounded queue. A full queue marks it overflowed instead of growing; a
    gap in what the process read marks it lost from that point."""

    __slots__ = ("lost_after", "overflowed", "queue")

    def __init__(self, size: int) -> None:
        # None in the queue wakes a waiting subscriber to find it lost.
        self.queue: asyncio.Queue[DeliveredEvent | None] = asyncio.Queue(size)
        self.overflowed = False
        self.lost_after: str | None = None

    def offer(self, delivered: DeliveredEvent) -> None:
        if self.overflowed or self.lost_after is not None:
            return
        try:
            self.queue.put_nowait(delivered)
        except asyncio.QueueFull:
            self.overflowed = True

    def lose(self, after: str) -> None:
        """Events after `after` were trimmed before this process read them."""
        if self.lost_after is not None:
            return
        self.lost_after = after
        with contextlib.suppress(asyncio.QueueFull):  # a full queue is drained to empty first
            self.queue.put_nowait(None)

    async def next(self) -> DeliveredEvent:
        if self.overflowed:
            raise SlowConsumerError
        if self.lost_after is not None and self.queue.empty():
            raise ResyncRequiredError(self.lost_after)
        delivered = await self.queue.get()
        if delivered is None:
            # What was queued before the gap has been handed out.
            raise ResyncRequiredError(self.lost_after)
        return delivered


@dataclass
class Feed:
    """A user followed by this process: the newest id read, and who gets what comes next."""

    cursor: str
    subscriptions: set[Subscription] = field(default_factory=set)


class SharedEventBus(ABC):
    """The subscribe side of a bus shared through a store (Redis, Postgres)."""

    def __init__(self, *, history: int, retention_seconds: int, queue_size: int) -> None:
        self.history = history
        self.retention_seconds = retention_seconds
        self.queue_size = queue_size
        self.feeds: dict[UUID, Feed] = {}
        self._joining = asyncio.Lock()

    # --- what a store provides -------------------------------------------------------------

    @abstractmethod
    async def publish(self, events: Sequence[Event]) -> list[str]: ...

    @abstractmethod
    async def last_event_id(self, user_id: UUID) -> str: ...

    @abstractmethod
    async def _read_page(
        self, user_id: UUID, after: str, through: str | None
    ) -> list[DeliveredEvent]:
        """Up to PAGE_SIZE events with `after < id <= through` (no upper bound when None)."""

    @abstractmethod
    async def _ensure_kept(self, user_id: UUID, after: str) -> None:
        """Raise ResyncRequiredError when events after `after` have been trimmed away."""

    @abstractmethod
    async def _start_reader(self) -> None:
        """Start the process's live reader, if not yet running."""

    @abstractmethod
    async def _followed(self, user_id: UUID) -> None:
        """A user has just been added to `feeds`: make the live reader include them now."""

    # --- fan-out -----------------------------------------------------------------------------

    def subscribe(
        self, user_id: UUID, *, after: str | None = None
    ) -> AsyncIterator[DeliveredEvent]:
        if after is not None:
            event_id_key(after)  # a malformed id fails here, not mid-stream
        return self._follow(user_id, after)

    async def _follow(self, user_id: UUID, after: str | None) -> AsyncIterator[DeliveredEvent]:
        subscription = Subscription(self.queue_size)
        joined_at = await self._join(user_id, subscription)
        try:
            last = joined_at
            if after is not None:
                # Nothing after a position at or past the head can have been trimmed.
                if event_id_key(after) < event_id_key(joined_at):
                    await self._ensure_kept(user_id, after)
                last = after
                # What was published before this process's cursor: from the store, in pages.
                while event_id_key(last) < event_id_key(joined_at):
                    page = await self._read_page(user_id, last, joined_at)
                    if not page:
                        break
                    for delivered in page:
                        last = delivered.id
                        yield delivered
            while True:
                delivered = await subscription.next()
                # The queue may repeat what the replay already gave.
                if event_id_key(delivered.id) > event_id_key(last):
                    last = delivered.id
                    yield delivered
        finally:
            self._leave(user_id, subscription)

    async def _join(self, user_id: UUID, subscription: Subscription) -> str:
        async with self._joining:
            feed = self.feeds.get(user_id)
            if feed is not None:
                feed.subscriptions.add(subscription)
                return feed.cursor
            await self._start_reader()
            head = await self.last_event_id(user_id)
            self.feeds[user_id] = Feed(head, {subscription})
            await self._followed(user_id)
            return head

    def _may_have_lost(self, events: Sequence[DeliveredEvent]) -> bool:
        """The store keeps at least `history` events. A complete read (fewer than a page) of
        fewer than that many new events therefore left a kept event at or before the cursor, and
        the kept events are a suffix: nothing after the cursor was trimmed. Otherwise look."""
        return len(events) >= min(self.history, PAGE_SIZE)

    def _leave(self, user_id: UUID, subscription: Subscription) -> None:
        feed = self.feeds.get(user_id)
        if feed is None:
            return
        feed.subscriptions.discard(subscription)
        if not feed.subscriptions:
            del self.feeds[user_id]

    async def _deliver(self, user_id: UUID, events: Sequence[DeliveredEvent]) -> None:
        """Called by the live reader with what it read for a user after the feed's cursor, in
        order. A reader that fell further behind than the kept history finds events trimmed
        before it read them: its subscribers are told to resync instead of seeing a gap."""
        feed = self.feeds.get(user_id)
        if feed is None or not events:
            return
        if self._may_have_lost(events):
            cursor = feed.cursor
            try:
                await self._ensure_kept(user_id, cursor)
            except ResyncRequiredError:
                for subscription in feed.subscriptions:
                    subscription.lose(cursor)
                feed.cursor = max(feed.cursor, events[-1].id, key=event_id_key)
                return
        for delivered in events:
            if event_id_key(delivered.id) <= event_id_key(feed.cursor):
                continue
            feed.cursor = delivered.id
            for subscription in feed.subscriptions:
                subscription.offer(delivered)
