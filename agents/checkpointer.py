"""LangGraph's Postgres checkpointer, in the application's own database.

The saver gets a psycopg 3 pool, not one connection: a single connection would serialise every
conversation. Its settings are the ones the saver requires: autocommit (it manages its own
writes), no server-side prepared statements (poolers and reused connections), dict rows.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url


def psycopg_conninfo(database_url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as a libpq connection string."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


# The saver's own tables: created and versioned by the library (`setup()`), not by Alembic.
CHECKPOINTER_TABLES = (
    "checkpoint_writes",
    "checkpoint_blobs",
    "checkpoints",
    "checkpoint_migrations",
)


def setup_checkpointer(database_url: str) -> None:
    """Create or upgrade the saver's tables; the library versions its own migrations."""
    with Connection.connect(
        psycopg_conninfo(database_url), autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        PostgresSaver(conn).setup()


def drop_checkpointer(database_url: str) -> None:
    with Connection.connect(psycopg_conninfo(database_url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(CHECKPOINTER_TABLES)}")


@asynccontextmanager
async def open_checkpointer(database_url: str, max_size: int) -> AsyncIterator[AsyncPostgresSaver]:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        psycopg_conninfo(database_url),
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    # Not waiting for connections: the API starts (and its health check reports) while the
    # database is still down; the pool keeps trying in the background.
    await pool.open(wait=False)
    try:
        yield AsyncPostgresSaver(pool)
    finally:
        await pool.close()
