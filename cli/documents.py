"""`studypilot documents reprocess`: finish documents whose processing died with its process.

Uploads are processed in the API process after the response; a restart or crash in between
leaves them `processing`. Processing is idempotent (chunks are replaced in one transaction), so
running it again is always safe. Every Temporal worker runs the same every five minutes (the
document reconciler); this is for a deployment without one, or for not waiting.
"""

import asyncio
from datetime import timedelta
from typing import Annotated

import typer

from cli.database import application_database
from core.config import Settings, get_settings
from core.db import create_engine, create_sessionmaker
from core.events import create_event_bus
from core.logging import configure_logging

app = typer.Typer(help="Uploaded study material.", no_args_is_help=True)


async def reprocess(settings: Settings, older_than: timedelta) -> dict[str, int]:
    # Imported here: the extraction and embedding stack is not needed by the other commands.
    from domain.documents.processing import create_document_runtime, reprocess_stuck
    from domain.embeddings.runtime import create_embedding_runtime

    engine = create_engine(settings)
    bus = create_event_bus(settings)
    embedding = create_embedding_runtime(settings)
    runtime = create_document_runtime(
        settings, create_sessionmaker(engine, bus), embedding.embedder, embedding.model_id
    )
    try:
        return await reprocess_stuck(runtime, older_than)
    finally:
        runtime.pool.shutdown()
        await bus.aclose()
        await engine.dispose()


@app.command("reprocess")
def reprocess_command(
    stuck_minutes: Annotated[
        int, typer.Option(min=0, help="Only documents processing for longer than this.")
    ] = 15,
) -> None:
    """Process again every document left `processing` for more than --stuck-minutes."""
    settings = get_settings()
    configure_logging(settings)
    with application_database(settings) as url:
        configured = settings.model_copy(update={"database_url": url})
        outcomes = asyncio.run(reprocess(configured, timedelta(minutes=stuck_minutes)))
    summary = ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
    typer.echo(f"reprocessed: {summary or 'nothing was stuck'}")
