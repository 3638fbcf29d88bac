"""What a voice worker process shares across its rooms: the database, the chat graph with its
checkpointer, the models, the limits and the embedder — the same pieces the API wires up."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.chat.graph import ChatGraph, build_chat_graph
from agents.checkpointer import open_checkpointer
from agents.llm import ChatModels
from core.config import Settings
from core.db import create_engine, create_sessionmaker, require_database_url
from core.rate_limit import RateLimiter
from domain.embeddings.runtime import EmbeddingRuntime, create_embedding_runtime


@dataclass(frozen=True)
class VoiceRuntime:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    graph: ChatGraph
    models: ChatModels
    rate_limiter: RateLimiter
    embedding: EmbeddingRuntime

    @property
    def run_lease(self) -> timedelta:
        return timedelta(seconds=self.settings.chat_run_lease_seconds)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[VoiceRuntime]:
    engine = create_engine(settings)
    try:
        async with open_checkpointer(
            require_database_url(settings), max_size=settings.db_pool_size
        ) as checkpointer:
            yield VoiceRuntime(
                settings=settings,
                sessionmaker=create_sessionmaker(engine),
                graph=build_chat_graph(checkpointer),
                models=ChatModels(settings),
                rate_limiter=RateLimiter(settings.redis_url),
                embedding=create_embedding_runtime(settings),
            )
    finally:
        await engine.dispose()
