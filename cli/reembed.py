"""`studypilot reembed`: embed every row without a vector of the current model.

That is rows never embedded (pending), rows whose embedding failed, and rows embedded by another
model (after STUDYPILOT_EMBEDDING_PROVIDER / _MODEL changed). Each batch is its own transaction,
so an interrupted run keeps what it finished and the next run carries on from there.
"""

import asyncio
from dataclasses import dataclass

import typer
from langchain_core.embeddings import Embeddings

from core.config import Settings, get_settings
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.logging import configure_logging
from domain.embeddings.embedder import EmbeddingsNotConfiguredError, create_embedder, model_id
from domain.embeddings.service import REEMBED_BATCH_SIZE, EmbeddingService
from domain.embeddings.text import EMBEDDED_MODELS

TARGETS = (*EMBEDDED_MODELS, "all")


@dataclass
class Counts:
    embedded: int = 0
    failed: int = 0


def run(target: str) -> None:
    if target not in TARGETS:
        raise typer.BadParameter(
            f"{target!r} is not one of {', '.join(TARGETS)}", param_hint="--model"
        )
    settings = get_settings()
    configure_logging(settings)
    if settings.database_url is None:
        typer.echo("DATABASE_URL is not set: point it at the database to re-embed.", err=True)
        raise typer.Exit(2)
    try:
        embedder = create_embedder(settings)
    except EmbeddingsNotConfiguredError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from exc
    names = list(EMBEDDED_MODELS) if target == "all" else [target]
    current = model_id(settings)
    typer.echo(f"re-embedding {', '.join(names)} with {current}")
    counts = asyncio.run(reembed(settings, embedder, current, names))
    for name, count in counts.items():
        typer.echo(f"{name}: {count.embedded} embedded, {count.failed} failed")
    if any(count.failed for count in counts.values()):
        # Scripts and cron notice; the log has each failure's cause.
        raise typer.Exit(1)


async def reembed(
    settings: Settings,
    embedder: Embeddings,
    current_model_id: str,
    names: list[str],
    batch_size: int = REEMBED_BATCH_SIZE,
) -> dict[str, Counts]:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    counts = {name: Counts() for name in names}
    try:
        for name in names:
            model = EMBEDDED_MODELS[name]
            after = None
            while True:
                async with unit_of_work(sessionmaker) as session:
                    service = EmbeddingService(session, embedder, current_model_id)
                    batch = await service.reembed_batch(model, after=after, batch_size=batch_size)
                if batch.last_id is None:
                    break
                counts[name].embedded += batch.embedded
                counts[name].failed += batch.failed
                after = batch.last_id
    finally:
        await engine.dispose()
    return counts
