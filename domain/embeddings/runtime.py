"""What the running app keeps for embeddings, and the helpers routes use to reach it.

Lifespan: `create_embedding_runtime(settings).attach(app.state)`; optionally start
`warm_up()` as a task so the first embedding does not pay the model load. Routes: take
`EmbeddingRuntimeDep` for queries, call `schedule_embedding` after writing rows.
"""

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import BackgroundTasks, Depends, Request
from langchain_core.embeddings import Embeddings
from starlette.datastructures import State

from core.config import Settings
from domain.embeddings.embedder import (
    EmbeddingsNotConfiguredError,
    LocalEmbedder,
    UnconfiguredEmbedder,
    create_embedder,
    model_id,
)
from domain.embeddings.service import embed_in_background, embed_query
from domain.embeddings.text import EmbeddedModel

logger = structlog.get_logger("studypilot.embeddings")


@dataclass(frozen=True)
class EmbeddingRuntime:
    embedder: Embeddings
    model_id: str

    def attach(self, state: State) -> None:
        """Publish on `app.state.embedder` / `app.state.embedding_model_id`."""
        state.embedder = self.embedder
        state.embedding_model_id = self.model_id

    async def embed_query(self, text: str) -> list[float]:
        """A search vector; 503 (`embeddings_not_configured` / `embeddings_unavailable`) if the
        provider cannot answer. Compare it only with rows whose embedding_model is model_id."""
        return await embed_query(self.embedder, self.model_id, text)

    async def warm_up(self) -> None:
        """Load the local model in a worker thread (a few seconds, mostly importing torch);
        nothing for remote providers. Never raises: a failure shows again on first use."""
        if not isinstance(self.embedder, LocalEmbedder):
            return
        try:
            await asyncio.to_thread(self.embedder.load)
        except Exception:
            logger.exception("embedding model warm-up failed", model_id=self.model_id)
        else:
            logger.info("embedding model loaded", model_id=self.model_id)


def create_embedding_runtime(settings: Settings) -> EmbeddingRuntime:
    """Never fails: a provider that cannot run here is replaced by one answering 503, so the
    rest of the API keeps working (rows stay `pending` until `studypilot reembed`)."""
    try:
        embedder = create_embedder(settings)
    except EmbeddingsNotConfiguredError as exc:
        logger.warning("embeddings not configured", reason=exc.message)
        embedder = UnconfiguredEmbedder(exc.message)
    return EmbeddingRuntime(embedder, model_id(settings))


def get_embedder(request: Request) -> Embeddings:
    embedder: Embeddings = request.app.state.embedder
    return embedder


def get_embedding_model_id(request: Request) -> str:
    current: str = request.app.state.embedding_model_id
    return current


def get_embedding_runtime(request: Request) -> EmbeddingRuntime:
    return EmbeddingRuntime(get_embedder(request), get_embedding_model_id(request))


EmbeddingRuntimeDep = Annotated[EmbeddingRuntime, Depends(get_embedding_runtime)]


def schedule_embedding(
    background: BackgroundTasks, request: Request, model: EmbeddedModel, ids: Sequence[uuid.UUID]
) -> None:
    """Embed these rows once the response is sent, in a unit of work of their own.

    Call it after the rows are written as `pending`: the request's unit of work commits before
    the response goes out, so the background run sees them.
    """
    state = request.app.state
    background.add_task(
        embed_in_background,
        state.sessionmaker,
        state.embedder,
        state.embedding_model_id,
        model,
        list(ids),
    )
