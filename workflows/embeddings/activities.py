"""Embedding activities: a row after its write, and the reconciler's stale `pending` rows, each
in a unit of work of its own."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.db import unit_of_work
from domain.embeddings.runtime import EmbeddingRuntime
from domain.embeddings.service import EmbeddingService
from domain.embeddings.text import EMBEDDED_MODELS
from domain.notes.models import Note
from domain.resources.models import Resource
from workflows.embeddings.inputs import EmbedRow, EmbedStale, EmbedStaleResult


class EmbeddingActivities:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], runtime: EmbeddingRuntime
    ) -> None:
        self.sessionmaker, self.runtime = sessionmaker, runtime

    @activity.defn(name="embed_row")
    async def embed_row(self, request: EmbedRow) -> int:
        """1 when the row now holds a current vector; 0 when it is gone, changed meanwhile (its
        own run follows) or no provider is configured. A provider failure raises, for Temporal
        to retry, unless this is the last attempt (`give_up`)."""
        async with unit_of_work(self.sessionmaker) as session:
            service = EmbeddingService(session, self.runtime.embedder, self.runtime.model_id)
            return await service.embed_pending(
                EMBEDDED_MODELS[request.table], [request.row_id], give_up=request.give_up
            )

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
