"""The event bus on Postgres, for deployments without Redis (the `make run` default).

Every process that reaches the database shares it: an API process, the workflow worker, the
voice worker. Events are rows of `realtime_events`, keyed per user by `(ms, seq)` — the same
`<ms>-<seq>` ids as Redis Streams. A user's id counter lives in `realtime_event_streams`; the
upsert that advances it locks the row until commit, so one user's events commit in id order
and a reader never sees a later id before an earlier one. `pg_notify` (sent at commit) wakes one
listening connection per process, which reads the new rows for the users it follows.

Trimming keeps the newest `history` events and drops those older than the retention, in
batches like `MAXLEN ~`, and records the newest id it removed: a resume from before it is known,
exactly, to have a gap.
"""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from sqlalchemy import BigInteger, ForeignKey, Integer, PrimaryKeyConstraint, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.events import DeliveredEvent, Event, ResyncRequiredError, event_id_key
from core.events_fanout import ORIGIN, PAGE_SIZE, SharedEventBus

log = structlog.get_logger(__name__)

CHANNEL = "studypilot_events"
# The listener is checked (and re-opened when lost) this often when no notification comes.
LISTENER_CHECK_SECONDS = 5.0


class EventStream(Base):
    """One user's id counter and how far their history has been trimmed."""

    __tablename__ = "realtime_event_streams"

    # Not a foreign key to users: publishing must not depend on the publisher's transaction
    # (a row it has not committed yet); a deleted user's events age out with the retention.
    user_id: Mapped[UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(Integer)
    # Events kept, counted so trimming runs in batches rather than on every publish.
    kept: Mapped[int] = mapped_column(Integer, server_default="0")
    trimmed_ms: Mapped[int | None] = mapped_column(BigInteger)
    trimmed_seq: Mapped[int | None] = mapped_column(Integer)


class StoredEvent(Base):
    __tablename__ = "realtime_events"
    __table_args__ = (PrimaryKeyConstraint("user_id", "ms", "seq"),)

    user_id: Mapped[UUID] = mapped_column(
        PgUUID(as_uuid=True), ForeignKey("realtime_event_streams.user_id", ondelete="CASCADE")
    )
    ms: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


_NEXT_ID = """
INSERT INTO realtime_event_streams AS s (user_id, last_ms, last_seq, kept)
VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 0, 1)
ON CONFLICT (user_id) DO UPDATE SET
    last_seq = CASE WHEN s.last_ms >= EXCLUDED.last_ms THEN s.last_seq + 1 ELSE 0 END,
    last_ms = GREATEST(s.last_ms, EXCLUDED.last_ms),
    kept = s.kept + 1
RETURNING last_ms, last_seq, kept
"""
_INSERT = """
INSERT INTO realtime_events (user_id, ms, seq, topic, type, data)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""
# Deletes beyond the newest $2 and older than $3 ms, then records the newest id removed.
_TRIM = """
WITH cutoff AS (
    SELECT ms, seq FROM realtime_events WHERE user_id = $1
    ORDER BY ms DESC, seq DESC OFFSET $2 LIMIT 1
), doomed AS (
    DELETE FROM realtime_events e
    WHERE e.user_id = $1
      AND (e.ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $3
           OR (e.ms, e.seq) <= (SELECT ms, seq FROM cutoff))
    RETURNING e.ms, e.seq
), newest AS (
    SELECT ms, seq, count(*) OVER () AS removed FROM doomed ORDER BY ms DESC, seq DESC LIMIT 1
)
UPDATE realtime_event_streams s
SET trimmed_ms = newest.ms, trimmed_seq = newest.seq, kept = s.kept - newest.removed
FROM newest WHERE s.user_id = $1
"""
_HEAD = "SELECT last_ms, last_seq FROM realtime_event_streams WHERE user_id = $1"
_TRIMMED = "SELECT trimmed_ms, trimmed_seq FROM realtime_event_streams WHERE user_id = $1"
_PAGE = """
SELECT ms, seq, topic, type, data::text AS data FROM realtime_events
WHERE user_id = $1 AND (ms, seq) > ($2, $3) AND (ms, seq) <= ($4, $5)
ORDER BY ms, seq LIMIT $6
"""
_MAX_ID = (2**62, 2**31 - 1)


class PostgresEventBus(SharedEventBus):
    def __init__(
        self, database_url: str, *, history: int, retention_seconds: int, queue_size: int
    ) -> None:
        super().__init__(
            history=history, retention_seconds=retention_seconds, queue_size=queue_size
        )
        # SQLAlchemy's URL names its driver; asyncpg wants the plain scheme.
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._listener: asyncpg.Connection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dirty: set[UUID] = set()
        self._wake = asyncio.Event()
        # Trim once the history has grown by this much past its size (like `MAXLEN ~`).
        self._trim_slack = max(1, history // 10)

    async def _connections(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4)
            return self._pool

    async def publish(self, events: Sequence[Event]) -> list[str]:
        if not events:
            return []
        pool = await self._connections()
        ids: list[str] = []
        to_trim: set[UUID] = set()
        async with pool.acquire() as connection, connection.transaction():
            for event in events:
                ms, seq, kept = await connection.fetchrow(_NEXT_ID, event.user_id)
                await connection.execute(
                    _INSERT, event.user_id, ms, seq, event.topic, event.type, json.dumps(event.data)
                )
                ids.append(f"{ms}-{seq}")
                if kept > self.history + self._trim_slack:
                    to_trim.add(event.user_id)
            for user_id in to_trim:
                await connection.execute(
                    _TRIM, user_id, self.history, self.retention_seconds * 1000
                )
            for user_id in {event.user_id for event in events}:
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, str(user_id))
        return ids

    async def last_event_id(self, user_id: UUID) -> str:
        pool = await self._connections()
        row = await pool.fetchrow(_HEAD, user_id)
        return f"{row['last_ms']}-{row['last_seq']}" if row else ORIGIN

    async def _read_page(
        self, user_id: UUID, after: str, through: str | None
    ) -> list[DeliveredEvent]:
        pool = await self._connections()
        low = event_id_key(after)
        high = event_id_key(through) if through is not None else _MAX_ID
        rows = await pool.fetch(_PAGE, user_id, *low, *high, PAGE_SIZE)
        return [
            DeliveredEvent(
                id=f"{row['ms']}-{row['seq']}",
                ts=datetime.fromtimestamp(row["ms"] / 1000, UTC),
                event=Event(user_id, row["topic"], row["type"], json.loads(row["data"])),
            )
            for row in rows
        ]

    async def _ensure_kept(self, user_id: UUID, after: str) -> None:
        pool = await self._connections()
        row = await pool.fetchrow(_TRIMMED, user_id)
        if row is None or row["trimmed_ms"] is None:
            return
        if event_id_key(after) < (row["trimmed_ms"], row["trimmed_seq"]):
            raise ResyncRequiredError(after)

    async def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            # Listening before the first head is read: nothing committed after it is missed.
            await self._listen()
            self._reader = asyncio.create_task(self._read_live(), name="event-bus-listen")

    async def _followed(self, user_id: UUID) -> None:
        # A notification may have come between reading the head and joining: look once.
        self._mark(user_id)

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(CHANNEL, self._notified)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            user_id = UUID(payload)
        except ValueError:
            return
        if user_id in self.feeds:
            self._mark(user_id)

    def _mark(self, user_id: UUID) -> None:
        self._dirty.add(user_id)
        self._wake.set()

    async def _read_live(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=LISTENER_CHECK_SECONDS)
            except TimeoutError:
                await self._recover_listener()
                continue
            self._wake.clear()
            users, self._dirty = self._dirty, set()
            for user_id in users:
                feed = self.feeds.get(user_id)
                if feed is None:
                    continue
                try:
                    page = await self._read_page(user_id, feed.cursor, None)
                except (OSError, asyncpg.PostgresError):
                    log.warning("event_bus_read_failed", exc_info=True)
                    self._mark(user_id)
                    await asyncio.sleep(1.0)
                    continue
                await self._deliver(user_id, page)
                if len(page) == PAGE_SIZE:
                    self._mark(user_id)

    async def _recover_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            await self._listen()
        except (OSError, asyncpg.PostgresError):
            log.warning("event_bus_listen_failed", exc_info=True)
            return
        # Notifications sent while it was down are lost: look at every followed user.
        for user_id in self.feeds:
            self._mark(user_id)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._listener is not None:
            await self._listener.close()
        if self._pool is not None:
            await self._pool.close()
