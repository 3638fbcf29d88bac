"""The embedding pipeline: rows saved `pending`, embedded after the write, re-embedded on demand.

A write commits its row as `pending` and answers at once; then a worker embeds it through the
`EmbeddingQueue` (a Temporal workflow per row, retried by Temporal), or, without Temporal,
`embed_in_background` in the API process (FastAPI's BackgroundTasks, off the request path), in a
unit of work of its own either way. A provider failure never loses the write: the row is marked
`failed` and `studypilot reembed` retries it, as it re-embeds every row whose vector a different
model made.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from langchain_core.embeddings import Embeddings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.errors import AppError
from core.search import EMBEDDING_DIMENSIONS
from domain.embeddings.embedder import EmbeddingDimensionError, EmbeddingsNotConfiguredError
from domain.embeddings.repository import EmbeddingRepository
from domain.embeddings.text import Embedded, EmbeddedModel, embedding_text

logger = structlog.get_logger("studypilot.embeddings")

# Rows per re-embedding transaction: a few seconds of CPU for the local model, one request for
# OpenAI, and little lost work if a run is interrupted.
REEMBED_BATCH_SIZE = 64


class EmbeddingUnavailableError(AppError):
    """The provider failed to embed a query (down, rate limited, misconfigured)."""

    status_code = 503
    code = "embeddings_unavailable"


@dataclass(frozen=True)
class BatchResult:
    embedded: int
    failed: int
    # Keyset position: the greatest id of the batch; None when the batch was empty.
    last_id: uuid.UUID | None


class EmbeddingService:
    def __init__(self, session: AsyncSession, embedder: Embeddings, model_id: str) -> None:
        self.embedder = embedder
        self.model_id = model_id
        self.rows = EmbeddingRepository(session)

    async def embed_pending(
        self, model: EmbeddedModel, ids: Sequence[uuid.UUID], *, give_up: bool = True
    ) -> int:
        """Embed these rows in one batch; returns how many now hold a current vector.

        Rows that are gone are skipped. If the provider fails, the rows are marked `failed`
        (and the error logged) instead of raising: the write that made them already succeeded.
        `give_up=False` raises instead, for a caller that retries (a workflow activity).
        """
        rows = await self.rows.get_many(model, ids)
        return await self._embed(model, rows, give_up=give_up)

    async def embed_stale_pending(
        self, model: EmbeddedModel, older_than: timedelta, limit: int
    ) -> int:
        """Embed up to `limit` rows left `pending` for longer than `older_than`; returns how
        many now hold a current vector (a provider failure marks them `failed`, as after a
        write)."""
        before = datetime.now(UTC) - older_than
        ids = await self.rows.pending_before(model, before, limit)
        return await self.embed_pending(model, ids)

    async def embed_query(self, text: str) -> list[float]:
        return await embed_query(self.embedder, self.model_id, text)

    async def reembed_batch(
        self,
        model: EmbeddedModel,
        *,
        after: uuid.UUID | None = None,
        batch_size: int = REEMBED_BATCH_SIZE,
    ) -> BatchResult:
        """Embed the next `batch_size` rows (by id, after `after`) lacking a current vector."""
        rows = await self.rows.stale_batch(model, self.model_id, after=after, limit=batch_size)
        if not rows:
            return BatchResult(0, 0, None)
        last_id = rows[-1].id
        embedded = await self._embed(model, rows)
        # The writes are UPDATE statements, already sent; a caller that commits per batch (the
        # CLI does) keeps each finished batch if a later one is interrupted.
        return BatchResult(embedded, len(rows) - embedded, last_id)

    async def reembed_all(self, model: EmbeddedModel, batch_size: int = REEMBED_BATCH_SIZE) -> int:
        """Embed every row lacking a current vector, batch by batch, in this session's
        transaction; returns how many were embedded. Keyset paging over id means rows that fail
        are passed once, not retried forever. Loaded rows stay in the session: for large tables
        use `reembed_batch` with a session per batch, as `studypilot reembed` does."""
        total = 0
        after: uuid.UUID | None = None
        while True:
            batch = await self.reembed_batch(model, after=after, batch_size=batch_size)
            if batch.last_id is None:
                return total
            total += batch.embedded
            after = batch.last_id

    async def _embed(
        self, model: EmbeddedModel, rows: Sequence[Embedded], *, give_up: bool = True
    ) -> int:
        if not rows:
            return 0
        texts = [embedding_text(row) for row in rows]
        # Read before awaiting the provider: what was embedded is this version of each row,
        # and loaded attributes may be expired by then (async sessions cannot lazy-load).
        versions = [(row.id, row.updated_at) for row in rows]
        try:
            vectors = await self.embedder.aembed_documents(texts)
            if len(vectors) != len(rows):
                raise ValueError(f"{len(vectors)} vectors for {len(rows)} texts")
            check_dimensions(vectors)
        except EmbeddingsNotConfiguredError as exc:
            # Nothing was attempted: the rows stay pending until a provider is set up and
            # `studypilot reembed` runs.
            logger.warning(
                "embeddings not configured; rows left pending",
                table=model.__tablename__,
                rows=len(rows),
                reason=exc.message,
            )
            return 0
        except Exception:
            # Broad on purpose: providers raise anything (HTTP, OS, torch, config errors), and
            # none of it may undo the user's write or kill the background worker.
            if not give_up:
                raise
            logger.exception(
                "embedding failed",
                table=model.__tablename__,
                rows=len(rows),
                model_id=self.model_id,
            )
            for row_id, updated_at in versions:
                await self.rows.mark_failed(model, row_id, updated_at)
            return 0
        stored = 0
        for (row_id, updated_at), vector in zip(versions, vectors, strict=True):
            if await self.rows.store(model, row_id, updated_at, vector, self.model_id):
                stored += 1
        return stored


async def embed_query(embedder: Embeddings, model_id: str, text: str) -> list[float]:
    """The vector to search with (compare it only with rows whose embedding_model is model_id).

    Raises EmbeddingsNotConfiguredError or EmbeddingUnavailableError (both 503) when the
    provider cannot answer.
    """
    try:
        vector = await embedder.aembed_query(text)
        check_dimensions([vector])
    except AppError:
        raise
    except Exception as exc:
        logger.exception("query embedding failed", model_id=model_id)
        raise EmbeddingUnavailableError("Semantic search is unavailable right now.") from exc
    return vector


def check_dimensions(vectors: Sequence[Sequence[float]]) -> None:
    for vector in vectors:
        if len(vector) != EMBEDDING_DIMENSIONS:
            # Typical of an OpenAI-compatible server that ignores the `dimensions` parameter.
            raise EmbeddingDimensionError(
                f"the provider returned {len(vector)} dimensions, the columns hold "
                f"{EMBEDDING_DIMENSIONS}"
            )


async def embed_in_background(
    sessionmaker: async_sessionmaker[AsyncSession],
    embedder: Embeddings,
    model_id: str,
    model: EmbeddedModel,
    ids: Sequence[uuid.UUID],
) -> None:
    """Embed rows just written, in a unit of work of its own; for FastAPI's BackgroundTasks.

    Never raises: nobody is left to answer once the response is sent. Provider failures mark
    the rows `failed`; anything else (the database going away) is logged.
    """
    try:
        async with unit_of_work(sessionmaker) as session:
            await EmbeddingService(session, embedder, model_id).embed_pending(model, ids)
    except Exception:
        logger.exception("background embedding failed", table=model.__tablename__, rows=len(ids))
