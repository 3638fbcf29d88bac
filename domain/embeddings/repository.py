"""Every SQL statement of the embedding pipeline.

Writes are guarded by the `updated_at` the row had when its text was read: an edit committed
while the text was being embedded wins (its own embedding run follows), so a slow run never
stores a vector of text that is no longer there. They also leave `updated_at` alone, since
embedding is not an edit. Being Core-style UPDATEs, they do not refresh rows already loaded in
the session; refresh those to see the new state.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import ScalarResult
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Base
from domain.embeddings.text import Embedded, EmbeddedModel


class EmbeddingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, model: EmbeddedModel, ids: Sequence[uuid.UUID]) -> list[Embedded]:
        if not ids:
            return []
        result = await self.session.execute(
            select(model).where(model.id.in_(ids)).order_by(model.id)
        )
        return _rows(result.scalars())

    async def stale_batch(
        self, model: EmbeddedModel, model_id: str, *, after: uuid.UUID | None, limit: int
    ) -> list[Embedded]:
        """The next rows by id without a current vector: never embedded, failed, stale, or
        embedded by another model."""
        statement = select(model).where(
            or_(model.embedding_status != "ready", model.embedding_model.is_distinct_from(model_id))
        )
        if after is not None:
            statement = statement.where(model.id > after)
        result = await self.session.execute(statement.order_by(model.id).limit(limit))
        return _rows(result.scalars())

    async def pending_before(
        self, model: EmbeddedModel, before: datetime, limit: int
    ) -> list[uuid.UUID]:
        """Rows still `pending` whose last write is older than `before`: their embedding after
        the write never finished (the process died, the provider hung)."""
        statement = (
            select(model.id)
            .where(model.embedding_status == "pending", model.updated_at < before)
            .order_by(model.updated_at)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def store(
        self,
        model: EmbeddedModel,
        row_id: uuid.UUID,
        seen_updated_at: datetime,
        vector: list[float],
        model_id: str,
    ) -> bool:
        """Store a row's vector; False when the row changed (or went) since it was read."""
        result = await self.session.execute(
            update(model)
            .where(model.id == row_id, model.updated_at == seen_updated_at)
            .values(
                embedding=vector,
                embedding_model=model_id,
                embedding_status="ready",
                embedded_at=func.clock_timestamp(),
                updated_at=model.updated_at,
            )
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def mark_failed(
        self, model: EmbeddedModel, row_id: uuid.UUID, seen_updated_at: datetime
    ) -> None:
        """The vector (if any) stays as it was; `studypilot reembed` retries failed rows."""
        await self.session.execute(
            update(model)
            .where(model.id == row_id, model.updated_at == seen_updated_at)
            .values(embedding_status="failed", updated_at=model.updated_at)
            .execution_options(synchronize_session=False)
        )


def _rows(result: ScalarResult[Base]) -> list[Embedded]:
    # select() over a union of mapped classes is typed as the declarative Base.
    return list(cast("ScalarResult[Embedded]", result))
