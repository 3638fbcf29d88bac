"""The API's side of embeddings: the runtime per request, search queries, embedding after writes."""

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from langchain_core.embeddings import Embeddings

from domain.embeddings.queue import EmbeddingQueue
from domain.embeddings.runtime import EmbeddingRuntime
from domain.embeddings.service import embed_in_background
from domain.embeddings.text import EmbeddedModel
from domain.search.ranking import SearchQuery


async def get_embedding_runtime(request: Request) -> EmbeddingRuntime:
    embedder: Embeddings = request.app.state.embedder
    model_id: str = request.app.state.embedding_model_id
    return EmbeddingRuntime(embedder, model_id)


EmbeddingDep = Annotated[EmbeddingRuntime, Depends(get_embedding_runtime)]


async def build_search_query(
    runtime: EmbeddingRuntime, text: str | None, semantic: str | None
) -> SearchQuery:
    vector = await runtime.embed_query(semantic) if semantic else None
    return SearchQuery(text=text, vector=vector, model_id=runtime.model_id)


def schedule_embedding(
    background: BackgroundTasks, request: Request, model: EmbeddedModel, ids: Sequence[uuid.UUID]
) -> None:
    """Have these rows embedded once the response is sent (the request's unit of work has
    committed by then, so the rows are there): by a worker when Temporal is configured,
    otherwise here, in a unit of work of its own."""
    queue: EmbeddingQueue | None = request.app.state.embedding_queue
    if queue is not None:
        for row_id in ids:
            background.add_task(queue.embed, model, row_id)
        return
    background.add_task(
        embed_in_background,
        request.app.state.sessionmaker,
        request.app.state.embedder,
        request.app.state.embedding_model_id,
        model,
        list(ids),
    )
