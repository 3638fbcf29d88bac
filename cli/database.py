"""The application database for commands that run outside the API: DATABASE_URL, or the
embedded Postgres of the data dir (the running one of `studypilot run`, else started here)."""

from collections.abc import Iterator
from contextlib import contextmanager

from core.config import Settings
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres

EMBEDDED_DATABASE = "studypilot"


@contextmanager
def application_database(settings: Settings) -> Iterator[str]:
    """The migrated application database's URL; an embedded server started here stops after."""
    import asyncio

    # Alembic and the checkpointer's migrations load only for the commands that need them.
    from core import migrate

    if settings.database_url is not None:
        migrate.upgrade(settings.database_url)
        yield settings.database_url
        return
    postgres = EmbeddedPostgres(
        settings.data_dir, port=settings.embedded_pg_port, os_user=settings.embedded_pg_os_user
    )
    started = not postgres.attach()
    if started:
        postgres.start()
    try:
        asyncio.run(ensure_database(postgres.url("postgres", "postgresql"), EMBEDDED_DATABASE))
        url = postgres.url(EMBEDDED_DATABASE)
        migrate.upgrade(url)
        yield url
    finally:
        if started:
            postgres.stop()
