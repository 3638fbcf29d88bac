"""A throwaway embedded Postgres 18 + pgvector in a temp dir, tuned as a small dedicated server."""

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from core import migrate
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres

# A small dedicated database server on this machine (24 GiB): the HNSW graph (~200 MB for
# 100k x 384) and the tables fit in shared buffers. Durability is off: the cluster is deleted at
# the end, and only reads are measured (a read-only commit writes no WAL either way).
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "2GB",
    "effective_cache_size": "8GB",
    "maintenance_work_mem": "2GB",
    "work_mem": "16MB",
    "max_parallel_maintenance_workers": "1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    # Statements per request and their execution time, for the HTTP comparison.
    "shared_preload_libraries": "pg_stat_statements",
}


def server_tempdir(prefix: str) -> Path:
    """A scratch dir the server's unprivileged OS user (when we are root) can enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)  # noqa: S103 - mkdtemp makes it private to us
    return path


async def _configure(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        for name, value in SERVER_SETTINGS.items():
            await connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    finally:
        await connection.close()


@contextmanager
def bench_postgres() -> Iterator[EmbeddedPostgres]:
    """Start a fresh, tuned cluster; stop it and delete its directory whatever happens."""
    data_dir = server_tempdir("studypilot-bench-")
    server = EmbeddedPostgres(data_dir)
    try:
        server.start()
        asyncio.run(_configure(server.url("postgres", "postgresql")))
        server.stop()  # shared_buffers needs a restart
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def create_database(server: EmbeddedPostgres, name: str) -> str:
    """Create and migrate database `name`; return its SQLAlchemy (asyncpg) URL."""
    await ensure_database(server.url("postgres", "postgresql"), name)
    url = server.url(name)
    # Alembic's async env runs its own event loop.
    await asyncio.to_thread(migrate.upgrade, url)
    return url


def plain_url(server: EmbeddedPostgres, name: str) -> str:
    """The postgresql:// URL asyncpg itself takes."""
    return server.url(name, "postgresql")
