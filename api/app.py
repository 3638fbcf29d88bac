"""The FastAPI application: `create_app()` wires settings, database, limiter, middleware, routes."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agents.chat.graph import build_chat_graph
from agents.checkpointer import open_checkpointer
from agents.llm import ChatModels
from api.body_limit import BodySizeLimitMiddleware
from api.deps import refuse_nul_in_query
from api.errors import ErrorBody, install_error_handlers
from api.middleware import AccessLogMiddleware
from api.routes import (
    ai_chat,
    auth,
    courses,
    evals,
    goals,
    health,
    notes,
    plans,
    recommendations,
    reminders,
    resources,
    schedule,
    summaries,
    users,
)
from core.config import Settings, get_settings
from core.db import create_engine, create_sessionmaker, require_database_url
from core.logging import configure_logging
from core.rate_limit import RateLimiter
from core.security import TokenCodec
from domain.embeddings.runtime import create_embedding_runtime

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        warm_up = asyncio.create_task(embedding.warm_up()) if settings.embedding_warm_up else None
        try:
            async with open_checkpointer(
                require_database_url(settings), max_size=settings.db_pool_size
            ) as checkpointer:
                app.state.chat_agent = build_chat_graph(checkpointer)
                yield
        finally:
            if warm_up is not None:
                warm_up.cancel()
            await engine.dispose()

    app = FastAPI(
        title="StudyPilot API",
        version="1.0.0",
        description="Courses, goals, notes, schedule and AI study agents. "
        "Errors are always `{code, message, details?}`.",
        lifespan=lifespan,
        # Statuses any route can answer: the body-size limit and the unexpected.
        responses={
            413: {"model": ErrorBody, "description": "Content Too Large"},
            500: {"model": ErrorBody, "description": "Internal Server Error"},
        },
    )
    app.state.settings = settings
    app.state.token_codec = TokenCodec(settings)
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    app.state.chat_models = ChatModels(settings)
    embedding = create_embedding_runtime(settings)
    embedding.attach(app.state)

    install_error_handlers(app)
    # Outermost last: CORS sees every response, request ids wrap the access log.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(refuse_nul_in_query)])
    # recommendations before resources: POST /resources/recommend is not a resource id.
    for module in (
        health,
        auth,
        users,
        courses,
        goals,
        notes,
        recommendations,
        resources,
        schedule,
        reminders,
        ai_chat,
        summaries,
        plans,
        evals,
    ):
        api.include_router(module.router)
    app.include_router(api)
    return app
