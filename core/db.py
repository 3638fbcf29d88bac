"""SQLAlchemy engine, sessions and the declarative base every model shares."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.after_commit import discard_deferred, run_deferred
from core.config import Settings
from core.events import (
    EVENT_BUS_KEY,
    EventBus,
    discard_queued_events,
    publish_queued_events,
)

# Stable constraint names keep migrations reviewable and reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    # clock_timestamp(), not now(): rows made in one transaction keep their real order, which
    # keyset pagination on (created_at, id) relies on.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        server_default=func.clock_timestamp(),
        onupdate=func.clock_timestamp(),
        nullable=False,
    )


def require_database_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise RuntimeError(
            "DATABASE_URL is not set; `studypilot run` sets it for the embedded Postgres"
        )
    return settings.database_url


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        require_database_url(settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    # Instead of `pool_pre_ping` (a round trip on every checkout, two statements per request).
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    return engine


def _replace_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """asyncpg notices at once when the server closes a connection's socket (a restart, an idle
    timeout), so a checkout can skip such a connection without asking the server: raising
    DisconnectionError makes the pool discard it and hand out a fresh one. A connection that
    breaks while a request uses it fails only that request (503 `database_unavailable`), and
    SQLAlchemy then recycles every connection opened before it."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_sessionmaker(
    engine: AsyncEngine, event_bus: EventBus | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose queued events (`core.events.queue_event`) go to `event_bus` on commit."""
    # Objects stay readable after commit, so a response can be built from them.
    info = {EVENT_BUS_KEY: event_bus} if event_bus is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work of its own: commit or roll back. For entry points outside HTTP (CLI,
    activities), and for work a request must keep apart from its own unit of work (a chat turn's
    claim, run records). Like a request's, it may be committed early by a service that hands
    its connection back before waiting on a model; what follows runs in a new transaction."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            discard_queued_events(session)
            discard_deferred(session)
            raise
        await session.commit()
        await publish_queued_events(session)
        await run_deferred(session)
