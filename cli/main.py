"""The `studypilot` command."""

import asyncio
import os
import signal
import subprocess
import sys
from typing import Annotated

import typer
import uvicorn

from cli.database import EMBEDDED_DATABASE
from cli.evals import app as evals_app
from cli.supervisor import Supervisor
from cli.users import app as users_app
from core import migrate
from core.config import get_settings
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres
from core.logging import configure_logging

app = typer.Typer(help="StudyPilot: the backend of an AI study assistant.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(evals_app, name="evals")
app.add_typer(users_app, name="users")


@app.command()
def run() -> None:
    """Run the whole stack: embedded Postgres (unless DATABASE_URL is set), migrations, the API."""
    settings = get_settings()
    configure_logging(settings)
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    env = dict(os.environ)
    exit_code = 1
    try:
        database_url = settings.database_url
        if database_url is None:
            postgres = EmbeddedPostgres(
                settings.data_dir,
                port=settings.embedded_pg_port,
                os_user=settings.embedded_pg_os_user,
            )
            supervisor.adopt("postgres", postgres.start(), stop_signal=signal.SIGINT)
            asyncio.run(ensure_database(postgres.url("postgres", "postgresql"), EMBEDDED_DATABASE))
            database_url = postgres.url(EMBEDDED_DATABASE)
            env["DATABASE_URL"] = database_url
        migrate.upgrade(database_url)
        if not supervisor.stop_requested:
            api = subprocess.Popen([sys.executable, "-m", "cli", "serve"], env=env)
            supervisor.adopt("api", api)
            exit_code = supervisor.wait()
        else:
            exit_code = 0
    finally:
        supervisor.stop_all()
    raise typer.Exit(exit_code)


@app.command()
def serve() -> None:
    """Serve the API alone (needs DATABASE_URL); what containers and `run` start."""
    settings = get_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structlog configuration, set up by create_app
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def reembed(
    model: Annotated[str, typer.Option(help="notes, resources or all.")] = "all",
) -> None:
    """Embed every row without a vector of the current embedding model (needs DATABASE_URL)."""
    # Imported here: the embedding stack is not needed by the other commands.
    from cli.reembed import run as run_reembed

    run_reembed(model)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from core.db import require_database_url

    migrate.upgrade(require_database_url(get_settings()), revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (`base` for an empty schema)."""
    from core.db import require_database_url

    migrate.downgrade(require_database_url(get_settings()), revision)
