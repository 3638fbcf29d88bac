"""What a running process keeps for embeddings: the embedder and the id of its model.

The app builds one at start-up (`create_embedding_runtime(settings).attach(app.state)`) and may
`warm_up()` it in the background so the first embedding does not pay the model load.
"""

import asyncio
from dataclasses import dataclass

import structlog
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
from domain.embeddings.service import embed_query

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
