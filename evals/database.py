"""A fresh database per eval run, copied from a migrated template (`CREATE DATABASE ...
TEMPLATE`): seconds to make, and a run never sees another run's rows."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from core import migrate
from core.database_admin import drop_database, ensure_database

TEMPLATE = "studypilot_eval_template"
# CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template; the migration's
# connections may take a moment to close.
_COPY_ATTEMPTS = 20


def database_url(url: str, name: str, driver: str = "postgresql+asyncpg") -> str:
    return make_url(url).set(database=name, drivername=driver).render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server of `server_url`, at the current schema; dropped after."""
    admin = database_url(server_url, "postgres", "postgresql")
    await ensure_database(admin, TEMPLATE)
    # Alembic's async env runs its own event loop, so it cannot share this one.
    await asyncio.to_thread(migrate.upgrade, database_url(server_url, TEMPLATE))
    name = f"studypilot_eval_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin)
    try:
        for attempt in range(_COPY_ATTEMPTS):
            try:
                await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
                break
            except asyncpg.ObjectInUseError:
                if attempt == _COPY_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await connection.close()
    try:
        yield database_url(server_url, name)
    finally:
        await drop_database(admin, name)
