"""Database-level chores no migration can do: creating the database and its extensions."""

import asyncpg

from core.errors import AppError


async def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` if missing, connecting through `admin_url` (plain postgresql://)."""
    if not name.replace("_", "").isalnum():
        raise AppError(f"invalid database name {name!r}")
    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    if not name.replace("_", "").isalnum():
        raise AppError(f"invalid database name {name!r}")
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
