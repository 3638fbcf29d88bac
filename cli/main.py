"""The `studypilot` command."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from api.realtime.serving import websocket_server_options
from cli.database import EMBEDDED_DATABASE
from cli.documents import app as documents_app
from cli.evals import app as evals_app
from cli.supervisor import Supervisor
from cli.users import app as users_app
from core.config import get_settings
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError
from core.embedded_temporal import EmbeddedTemporal, EmbeddedTemporalError
from core.local_llm import LocalLLM
from core.logging import configure_logging

app = typer.Typer(help="StudyPilot: the backend of an AI study assistant.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(evals_app, name="evals")
app.add_typer(users_app, name="users")
app.add_typer(documents_app, name="documents")


@app.command()
def run() -> None:
    """Run the whole stack: embedded Postgres (unless DATABASE_URL is set), migrations, the
    embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), the local model (with
    STUDYPILOT_LLM_PROVIDER=local), the API, the workflow worker (restarted whenever it dies),
    and the voice worker when the LiveKit settings are set."""
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
                server_root=settings.embedded_pg_server_root,
            )
            supervisor.adopt("postgres", postgres.start(), stop_signal=signal.SIGINT)
            asyncio.run(ensure_database(postgres.url("postgres", "postgresql"), EMBEDDED_DATABASE))
            database_url = postgres.url(EMBEDDED_DATABASE)
            env["DATABASE_URL"] = database_url
        from core import migrate  # Alembic: only the commands that migrate pay for importing it

        migrate.upgrade(database_url)
        if settings.temporal_address is None and not supervisor.stop_requested:
            temporal = EmbeddedTemporal(settings.data_dir, port=settings.embedded_temporal_port)
            supervisor.adopt("temporal", temporal.start())
            env["TEMPORAL_ADDRESS"] = temporal.address
        if settings.llm_provider == "local" and not supervisor.stop_requested:
            local_llm = LocalLLM(
                settings.data_dir / "local-llm.log", threads=min(2, os.cpu_count() or 1)
            )
            supervisor.adopt("local-llm", local_llm.start())
            env = local_llm.api_environment(env)
        if not supervisor.stop_requested:
            api = subprocess.Popen([sys.executable, "-m", "cli", "serve"], env=env)
            supervisor.adopt("api", api)
            supervisor.adopt_restartable(
                "worker",
                lambda: subprocess.Popen([sys.executable, "-m", "cli", "worker"], env=env),
            )
            if settings.livekit_configured:
                # Voice needs a LiveKit server; without its settings there is nothing to join.
                worker = subprocess.Popen([sys.executable, "-m", "cli", "voice-worker"], env=env)
                supervisor.adopt("voice-worker", worker)
            exit_code = supervisor.wait()
        else:
            exit_code = 0
    except EmbeddedPostgresError as exc:
        # A set-up problem the user can fix: one line that says what to do, not a traceback.
        typer.echo(f"studypilot: the embedded Postgres cannot start: {exc}", err=True)
    except EmbeddedTemporalError as exc:
        typer.echo(f"studypilot: the embedded Temporal server cannot start: {exc}", err=True)
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
        # Each process serves on its own core; what they must share (the database, the event
        # bus, tickets, and with REDIS_URL the rate limits) lives outside them.
        workers=settings.workers,
        log_config=None,  # our structlog configuration, set up by create_app
        access_log=False,
        # Forwarded headers are believed only from STUDYPILOT_TRUSTED_PROXIES, by the app itself.
        proxy_headers=False,
        **websocket_server_options(settings),
    )


@app.command()
def worker() -> None:
    """The Temporal worker alone (needs DATABASE_URL and TEMPORAL_ADDRESS); what containers and
    `run` start. Scale it out by running more."""
    from cli.worker import run as run_worker

    settings = get_settings()
    configure_logging(settings)
    if settings.temporal_address is None:
        typer.echo("studypilot worker: TEMPORAL_ADDRESS is not set", err=True)
        raise typer.Exit(2)
    run_worker(settings)


@app.command()
def reembed(
    model: Annotated[str, typer.Option(help="notes, resources, document_chunks or all.")] = "all",
) -> None:
    """Embed every row without a vector of the current embedding model (needs DATABASE_URL)."""
    # Imported here: the embedding stack is not needed by the other commands.
    from cli.reembed import run as run_reembed

    run_reembed(model)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option(help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Print the OpenAPI document, exactly as committed in openapi/openapi.json."""
    from api.app import create_app
    from api.openapi import openapi_document

    document = openapi_document(create_app())
    if output is None:
        sys.stdout.write(document)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document, encoding="utf-8")


@app.command("voice-worker")
def voice_worker() -> None:
    """The LiveKit voice agent worker (needs DATABASE_URL and LIVEKIT_URL/_API_KEY/_API_SECRET)."""
    from voice.settings import VoiceNotConfiguredError, livekit_settings

    settings = get_settings()
    try:
        livekit_settings(settings)
    except VoiceNotConfiguredError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from exc
    # Imported once configured: livekit-agents and the speech engines take seconds to load.
    from voice.worker import run as run_voice_worker

    run_voice_worker(settings)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from core import migrate
    from core.db import require_database_url

    migrate.upgrade(require_database_url(get_settings()), revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (`base` for an empty schema)."""
    from core import migrate
    from core.db import require_database_url

    migrate.downgrade(require_database_url(get_settings()), revision)
