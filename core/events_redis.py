"""The event bus on Redis Streams: one stream per user, shared by every process using the Redis.

`XADD ... MAXLEN ~ history` keeps the last events and `XTRIM MINID ~` drops those older than the
retention; both trim whole macro-nodes, so a stream may hold somewhat more than asked, never
less. One task per process `XREAD`s the streams of every user with local subscribers and fans
out to their queues. Redis 7.0 does not record the last id trimmed away, so a resume is judged
against the stream's first id: resuming from before it, once anything was trimmed, needs a resync.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.events import DeliveredEvent, Event, ResyncRequiredError, event_id_key
from core.events_fanout import ORIGIN, PAGE_SIZE, SharedEventBus

log = structlog.get_logger(__name__)

KEY_PREFIX = "studypilot:events:"
# XREAD blocks this long at most; the wake stream interrupts it when a user is added.
BLOCK_MILLISECONDS = 5000
RECONNECT_DELAY_SECONDS = 1.0


class RedisEventBus(SharedEventBus):
    def __init__(
        self,
        redis_url: str,
        *,
        history: int,
        retention_seconds: int,
        queue_size: int,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        super().__init__(
            history=history, retention_seconds=retention_seconds, queue_size=queue_size
        )
        self._url = redis_url
        self._prefix = key_prefix
        self._redis: Redis = Redis.from_url(redis_url, decode_responses=True)
        # XREAD BLOCK holds its connection: the reader gets one of its own.
        self._reader_redis: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        # Adding to this stream wakes this process's blocked XREAD, so a new user is followed
        # at once rather than after the block times out.
        self._wake_key = f"{key_prefix}wake:{uuid.uuid4()}"
        self._wake_cursor = ORIGIN

    def _key(self, user_id: UUID) -> str:
        return f"{self._prefix}{user_id}"

    async def publish(self, events: Sequence[Event]) -> list[str]:
        if not events:
            return []
        oldest_kept = f"{_now_ms() - self.retention_seconds * 1000}-0"
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(
                    self._key(event.user_id),
                    {"topic": event.topic, "type": event.type, "data": json.dumps(event.data)},
                    maxlen=self.history,
                    approximate=True,
                )
            for key in {self._key(event.user_id) for event in events}:
                pipe.xtrim(key, minid=oldest_kept, approximate=True)
                # A stream nobody wrote to for a whole retention holds nothing worth keeping.
                pipe.expire(key, self.retention_seconds)
            results = await pipe.execute()
        return [str(event_id) for event_id in results[: len(events)]]

    async def last_event_id(self, user_id: UUID) -> str:
        newest = await self._redis.xrevrange(self._key(user_id), count=1)
        return str(newest[0][0]) if newest else ORIGIN

    async def _read_page(
        self, user_id: UUID, after: str, through: str | None
    ) -> list[DeliveredEvent]:
        entries = await self._redis.xrange(
            self._key(user_id), min=f"({after}", max=through or "+", count=PAGE_SIZE
        )
        return [_delivered(user_id, event_id, fields) for event_id, fields in entries]

    async def _ensure_kept(self, user_id: UUID, after: str) -> None:
        try:
            info: dict[str, Any] = await self._redis.xinfo_stream(self._key(user_id))
        except RedisError:
            # No stream: never written, or expired after a whole retention without events.
            if (
                after != ORIGIN
                and event_id_key(after)[0] < _now_ms() - self.retention_seconds * 1000
            ):
                raise ResyncRequiredError(after) from None
            return
        trimmed = int(info["entries-added"]) > int(info["length"])
        if not trimmed:
            return
        first = info.get("first-entry")
        oldest = str(first[0]) if first else str(info["last-generated-id"])
        # `after` just before the first kept id would be fine, but ids are not dense: which
        # id preceded the first kept one is not recorded, so that case resyncs too.
        if event_id_key(after) < event_id_key(oldest):
            raise ResyncRequiredError(after)

    async def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            if self._reader_redis is None:
                self._reader_redis = Redis.from_url(self._url, decode_responses=True)
            # A concrete cursor, not `$`: a wake-up sent before the first XREAD still counts.
            self._wake_cursor = str(await self._wake())
            self._reader = asyncio.create_task(self._read_live(), name="event-bus-xread")

    async def _followed(self, user_id: UUID) -> None:
        await self._wake()

    async def _wake(self) -> str:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"wake": "1"}, maxlen=1, approximate=False)
            pipe.expire(self._wake_key, 3600)
            event_id, _ = await pipe.execute()
        return str(event_id)

    async def _read_live(self) -> None:
        assert self._reader_redis is not None
        redis = self._reader_redis
        while True:
            streams: dict[Any, Any] = {self._wake_key: self._wake_cursor}
            users: dict[str, UUID] = {}
            for user_id, feed in self.feeds.items():
                key = self._key(user_id)
                users[key] = user_id
                streams[key] = feed.cursor
            try:
                response = await redis.xread(streams, count=PAGE_SIZE, block=BLOCK_MILLISECONDS)
            except RedisError:
                log.warning("event_bus_read_failed", exc_info=True)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                continue
            for key, entries in response or []:
                if key == self._wake_key:
                    self._wake_cursor = str(entries[-1][0])
                elif key in users:
                    user_id = users[key]
                    await self._deliver(user_id, [_delivered(user_id, i, f) for i, f in entries])

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._reader_redis is not None:
            await self._reader_redis.aclose()
        try:
            await self._redis.delete(self._wake_key)
        except RedisError:
            log.warning("event_bus_wake_key_left", key=self._wake_key)
        await self._redis.aclose()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _delivered(user_id: UUID, event_id: str, fields: dict[str, str]) -> DeliveredEvent:
    return DeliveredEvent(
        id=event_id,
        ts=datetime.fromtimestamp(event_id_key(event_id)[0] / 1000, UTC),
        event=Event(
            user_id=user_id,
            topic=fields["topic"],
            type=fields["type"],
            data=json.loads(fields["data"]),
        ),
    )
