"""The embedding reconciler's activity: each table's stale `pending` rows, a bounded batch, in a
unit of work of its own per table."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.db import unit_of_work
from domain.embeddings.runtime import EmbeddingRuntime
from domain.embeddings.service import EmbeddingService
from domain.notes.models import Note
from domain.resources.models import Resource
from workflows.embeddings.inputs import EmbedStale, EmbedStaleResult


class EmbeddingActivities:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], runtime: EmbeddingRuntime
    ) -> None:
        self.sessionmaker, self.runtime = sessionmaker, runtime

    @activity.defn(name="embed_stale_pending")
    async def embed_stale(self, request: EmbedStale) -> EmbedStaleResult:
        embedded = 0
        for model in (Note, Resource):
            async with unit_of_work(self.sessionmaker) as session:
                service = EmbeddingService(session, self.runtime.embedder, self.runtime.model_id)
                embedded += await service.embed_stale_pending(
                    model, timedelta(seconds=request.older_than_seconds), request.batch_size
                )
        return EmbedStaleResult(embedded=embedded)
