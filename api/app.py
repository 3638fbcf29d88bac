"""The FastAPI application: `create_app()` wires settings, database, limiter, middleware, routes."""

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from agents.chat.graph import build_chat_graph
from agents.checkpointer import open_checkpointer
from agents.llm import ChatModels
from api.body_limit import BodySizeLimitMiddleware
from api.deps import refuse_nul_in_query
from api.errors import DATABASE_BUSY_RESPONSE, ErrorBody, install_error_handlers
from api.middleware import AccessLogMiddleware
from api.openapi import operation_id
from api.realtime.hub import RealtimeHub
from api.routes import (
    ai_chat,
    ai_status,
    auth,
    courses,
    documents,
    evals,
    goals,
    health,
    metrics,
    notes,
    notifications,
    plans,
    realtime,
    recommendations,
    reminders,
    resources,
    schedule,
    search,
    summaries,
    users,
    voice,
)
from core.config import Settings, get_settings
from core.db import create_engine, create_sessionmaker, require_database_url
from core.events import create_event_bus
from core.logging import configure_logging
from core.metrics import unwatch_pool, watch_pool
from core.rate_limit import RateLimiter
from core.security import TokenCodec
from core.telemetry import instrument_engine, otlp_tracer_provider, use_globally
from core.temporal import connect_temporal
from domain.documents.fetcher import SafeFetcher
from domain.documents.processing import ExtractionPool, limits_from
from domain.documents.storage import document_storage
from domain.embeddings.embedder import LocalEmbedder
from domain.embeddings.runtime import create_embedding_runtime
from workflows.agent_jobs.schedules import TemporalAgentJobSchedules
from workflows.embeddings.client import TemporalEmbeddingQueue
from workflows.plans.client import TemporalPlanTracker
from workflows.reminders.client import TemporalReminderTimers

API_PREFIX = "/api/v1"


def _is_metrics_scrape(scope: MutableMapping[str, Any]) -> bool:
    # Scrapes every few seconds would drown the traces that matter.
    return scope.get("path") == "/metrics"


def create_app(
    settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """`tracer_provider`: where spans go; default: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is
    set, nowhere otherwise."""
    settings = settings or get_settings()
    configure_logging(settings)
    tracer_provider = tracer_provider or otlp_tracer_provider(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        # Built here, not with the app: the bus needs a database or Redis, the spec does not.
        app.state.event_bus = create_event_bus(settings)
        app.state.sessionmaker = create_sessionmaker(engine, app.state.event_bus)
        if settings.temporal_configured:
            # Lazy: the API serves (and stores reminders) while Temporal is still coming up.
            app.state.temporal = await connect_temporal(settings, lazy=True)
            app.state.reminder_timers = TemporalReminderTimers(
                app.state.temporal, settings.temporal_task_queue
            )
            app.state.agent_job_schedules = TemporalAgentJobSchedules(
                app.state.temporal, settings.temporal_task_queue
            )
            app.state.plan_tracker = TemporalPlanTracker(
                app.state.temporal, settings.temporal_task_queue, settings.plan_missed_grace_seconds
            )
            app.state.embedding_queue = TemporalEmbeddingQueue(
                app.state.temporal, settings.temporal_task_queue
            )
        pool_metrics = watch_pool(engine)
        if tracer_provider is not None:
            instrument_engine(engine, tracer_provider)
        warm_up = asyncio.create_task(embedding.warm_up()) if settings.embedding_warm_up else None
        # Documents embed with the local model in the extraction worker: it loads there too.
        worker_warm_up = (
            asyncio.create_task(app.state.extraction_pool.warm_up(embedding.embedder.model_dir))
            if settings.embedding_warm_up and isinstance(embedding.embedder, LocalEmbedder)
            else None
        )
        try:
            async with open_checkpointer(
                require_database_url(settings), max_size=settings.db_pool_size
            ) as checkpointer:
                app.state.chat_agent = build_chat_graph(checkpointer)
                yield
        finally:
            for task in (warm_up, worker_warm_up):
                if task is not None:
                    task.cancel()
            app.state.extraction_pool.shutdown()
            await app.state.realtime_hub.aclose()
            unwatch_pool(pool_metrics)
            await engine.dispose()
            await app.state.event_bus.aclose()
            if app.state.realtime_redis is not None:
                await app.state.realtime_redis.aclose()
            if tracer_provider is not None:
                tracer_provider.force_flush()

    app = FastAPI(
        title="StudyPilot API",
        version="1.0.0",
        description="Courses, goals, notes, schedule and AI study agents. "
        "Errors are always `{code, message, details?}`.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # FastAPI's own OpenTelemetry spans (request, dependencies, endpoint, serialisation),
        # on only when tracing is; metrics are Prometheus' (/metrics), logs are structlog's.
        telemetry={
            "tracing": tracer_provider is not None,
            "tracer_provider": tracer_provider,
            "metrics": False,
            "logs": False,
            "exclude": _is_metrics_scrape,
        },
        # Statuses any route can answer: the body-size limit, a full pool, and the unexpected.
        responses={
            413: {"model": ErrorBody, "description": "Content Too Large"},
            500: {"model": ErrorBody, "description": "Internal Server Error"},
            503: DATABASE_BUSY_RESPONSE,
        },
    )
    app.state.settings = settings
    app.state.token_codec = TokenCodec(settings)
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    app.state.realtime_hub = RealtimeHub(app.state, settings)
    app.state.realtime_redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    app.state.chat_models = ChatModels(settings)
    # Without TEMPORAL_ADDRESS no workflow is started from the API (see docs/workflows.md).
    app.state.temporal = None
    app.state.reminder_timers = None
    app.state.agent_job_schedules = None
    app.state.plan_tracker = None
    app.state.embedding_queue = None
    embedding = create_embedding_runtime(settings)
    embedding.attach(app.state)
    app.state.document_storage = document_storage(settings)
    app.state.extraction_pool = ExtractionPool(
        settings.document_workers, settings.document_extraction_timeout_seconds
    )
    app.state.extraction_limits, app.state.upload_limits = limits_from(settings)
    app.state.url_fetcher = SafeFetcher(
        max_bytes=settings.document_max_bytes,
        timeout_seconds=settings.url_fetch_timeout_seconds,
        allowed_addresses=frozenset(settings.url_fetch_allowed_addresses),
        enabled=settings.url_fetch_enabled,
    )

    install_error_handlers(app)
    # Outermost last: CORS sees every response, request ids wrap the access log.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        # An upload carries its file and a few form fields.
        overrides={f"{API_PREFIX}/documents": settings.document_max_bytes + 64 * 1024},
    )
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
    if settings.trusted_proxies:
        # Outermost: every limit, log line and metric sees the client a trusted proxy names.
        # Installed here rather than by the server, so it holds however the app is served.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    if tracer_provider is not None:
        use_globally(tracer_provider)

    # Outside /api/v1 and the OpenAPI document: for operators, not for the frontend.
    app.include_router(metrics.router)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(refuse_nul_in_query)])
    # recommendations before resources: POST /resources/recommend is not a resource id.
    for module in (
        health,
        auth,
        users,
        courses,
        goals,
        notes,
        documents,
        recommendations,
        resources,
        schedule,
        reminders,
        search,
        notifications,
        ai_chat,
        ai_status,
        summaries,
        plans,
        voice,
        realtime,
        evals,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(realtime.socket_router, prefix=API_PREFIX)
    return app
