import asyncio

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from core import migrate
from core.database_admin import drop_database, ensure_database
from core.db import Base
from core.embedded_postgres import EmbeddedPostgres
from domain.models import load_all_models

SCRATCH_DATABASE = "studypilot_migrations"


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        extensions = await connection.fetch("SELECT extname FROM pg_extension")
    finally:
        await connection.close()
    return {r["tablename"] for r in rows} | {f"ext:{r['extname']}" for r in extensions}


async def test_upgrade_to_head_and_down_to_base(postgres: EmbeddedPostgres) -> None:
    admin = postgres.url("postgres", "postgresql")
    await drop_database(admin, SCRATCH_DATABASE)
    await ensure_database(admin, SCRATCH_DATABASE)
    url = postgres.url(SCRATCH_DATABASE)
    plain = postgres.url(SCRATCH_DATABASE, "postgresql")
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        assert {"users", "refresh_tokens", "alembic_version", "ext:vector"} <= await _tables(plain)

        await asyncio.to_thread(migrate.downgrade, url, "base")
        assert await _tables(plain) == {"alembic_version", "ext:plpgsql"}

        await asyncio.to_thread(migrate.upgrade, url)
        assert "users" in await _tables(plain)
    finally:
        await drop_database(admin, SCRATCH_DATABASE)


async def test_models_and_migrations_agree(database_url: str) -> None:
    load_all_models()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"include_name": migrate.managed_by_alembic}
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
