import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
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


USER, TOKEN, COURSE, PLAN = (uuid.uuid4() for _ in range(4))
Seed = Callable[[asyncpg.Connection], Awaitable[object]]


async def _seed_account(db: asyncpg.Connection) -> None:
    await db.execute(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, 'old@example.com', 'x')", USER
    )
    await db.execute(
        """INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
           VALUES ($1, $2, $1, 'h', now() + interval '1 day')""",
        TOKEN,
        USER,
    )


# Rows written as each revision's schema stood: what a database upgraded in production holds.
SEEDS: dict[str, Seed] = {
    "0001": _seed_account,
    "0002": lambda db: db.execute(
        "INSERT INTO courses (id, owner_id, title, visibility) VALUES ($1, $2, 'Old', 'private')",
        COURSE,
        USER,
    ),
    "0003": lambda db: db.execute(
        """INSERT INTO study_plans (id, user_id, course_id, title, status, timezone, start_date,
               end_date, fits, proof, model, prompt_version)
           VALUES ($1, $2, $3, 'Old plan', 'draft', 'UTC', '2026-01-05', '2026-01-09', true,
               '{}', 'gpt-old', 'plan/v1')""",
        PLAN,
        USER,
        COURSE,
    ),
}
# Each seeded row: the table it lives in and the revision that created that table.
SEEDED = {
    "users": (USER, "0001"),
    "refresh_tokens": (TOKEN, "0001"),
    "courses": (COURSE, "0002"),
    "study_plans": (PLAN, "0003"),
}


def _revisions_base_to_head() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def _seeded_rows(url: str, applied: list[str]) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        return {
            # The table names are this module's own constants.
            table: await connection.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", row)  # noqa: S608
            for table, (row, created_in) in SEEDED.items()
            if created_in in applied
        }
    finally:
        await connection.close()


async def test_rows_are_carried_through_every_revision_up_and_down(
    postgres: EmbeddedPostgres,
) -> None:
    admin = postgres.url("postgres", "postgresql")
    await drop_database(admin, SCRATCH_DATABASE)
    await ensure_database(admin, SCRATCH_DATABASE)
    url = postgres.url(SCRATCH_DATABASE)
    plain = postgres.url(SCRATCH_DATABASE, "postgresql")
    revisions = _revisions_base_to_head()
    try:
        for index, revision in enumerate(revisions):
            await asyncio.to_thread(migrate.upgrade, url, revision)
            if seed := SEEDS.get(revision):
                connection = await asyncpg.connect(plain)
                try:
                    await seed(connection)
                finally:
                    await connection.close()
            applied = revisions[: index + 1]
            assert set((await _seeded_rows(plain, applied)).values()) == {1}, revision

        connection = await asyncpg.connect(plain)
        try:
            # What later revisions added, read back on the old rows.
            assert await connection.fetchval("SELECT role FROM users WHERE id = $1", USER) == (
                "student"
            )
            assert await connection.fetchval(
                "SELECT drafted_by FROM study_plans WHERE id = $1", PLAN
            ) == ("model")
            assert await connection.fetchval(
                "SELECT auto_replan FROM study_plans WHERE id = $1", PLAN
            )
            assert await connection.fetchval(
                "SELECT replaced_by_id IS NULL FROM refresh_tokens WHERE id = $1", TOKEN
            )
        finally:
            await connection.close()

        for index in range(len(revisions) - 1, 0, -1):
            await asyncio.to_thread(migrate.downgrade, url, revisions[index - 1])
            applied = revisions[:index]
            assert set((await _seeded_rows(plain, applied)).values()) == {1}, revisions[index]
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
