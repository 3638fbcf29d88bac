"""The Temporal worker: every workflow and activity of StudyPilot on one task queue.

`studypilot worker` runs one; `studypilot run` supervises one and restarts it when it dies. It
holds no state of its own: a worker killed at any point loses nothing, another picks up its
workflows (after the sticky queue timeout, kept short for that reason).
"""

import asyncio
import contextlib
import importlib.metadata
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from langchain_core.language_models import BaseChatModel
from temporalio.client import Client
from temporalio.worker import Worker

from agents.llm import Task, chat_model, choose_model, provider
from agents.runs import AgentRuns
from core.config import Settings
from core.db import create_engine, create_sessionmaker
from core.events import create_event_bus
from core.rate_limit import RateLimiter
from core.temporal import connect_temporal
from domain.documents.processing import create_document_runtime
from domain.embeddings.runtime import EmbeddingRuntime, create_embedding_runtime
from workflows.agent_jobs.activities import AgentJobActivities
from workflows.agent_jobs.workflow import AgentJobWorkflow
from workflows.documents.activities import DocumentActivities
from workflows.documents.workflow import DocumentReconcileWorkflow
from workflows.embeddings.activities import EmbeddingActivities
from workflows.embeddings.inputs import embedding_task_queue
from workflows.embeddings.workflow import EmbeddingReconcileWorkflow, EmbedRowWorkflow
from workflows.plans.activities import PlanActivities
from workflows.plans.workflow import PlanWorkflow
from workflows.reconciler_schedules import ensure_reconciler_schedules
from workflows.reminders.activities import ReminderActivities
from workflows.reminders.client import TemporalReminderTimers
from workflows.reminders.reconciler import start_missing_reminder_workflows
from workflows.reminders.workflow import ReminderWorkflow

logger = structlog.get_logger("studypilot.worker")
# A killed worker's workflows wait this long before another worker may take them.
STICKY_QUEUE_TIMEOUT = timedelta(seconds=2)
# On SIGTERM, running activities get this long to finish before the worker stops.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
RECONCILE_RETRY_SECONDS = 5.0


async def _reconcile_forever(
    interval_seconds: float, reconcile: Callable[[], Awaitable[None]]
) -> None:
    while True:
        try:
            await reconcile()
        except Exception:
            logger.exception("reconcile_failed")
            await asyncio.sleep(RECONCILE_RETRY_SECONDS)
            continue
        await asyncio.sleep(interval_seconds)


def _model_without_retries(settings: Settings, task: Task) -> BaseChatModel | None:
    """The task's model for activities (the chat model words digests, the plan model redrafts
    plans); None without one. Its client does not retry: Temporal retries the activity, and a
    model that keeps failing gets the deterministic result instead."""
    if choose_model(settings, task) is None or provider(settings) is None:
        return None
    return chat_model(settings.model_copy(update={"llm_max_retries": 0}), task)


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    client: Client | None = None,
    *,
    embedding: EmbeddingRuntime | None = None,
) -> None:
    """Poll until `stop` is set, then shut down gracefully. `client`, `embedding`: an existing
    connection and embedder (tests); default: from the settings."""
    client = client or await connect_temporal(settings)
    # The local model loads on first use: a worker with nothing stale never pays for it.
    embedding = embedding or create_embedding_runtime(settings)
    engine = create_engine(settings)
    event_bus = create_event_bus(settings)
    sessionmaker = create_sessionmaker(engine, event_bus)
    timers = TemporalReminderTimers(client, settings.temporal_task_queue)
    reminders = ReminderActivities(sessionmaker)
    runs = AgentRuns(settings, sessionmaker, RateLimiter(settings.redis_url))
    plans = PlanActivities(
        sessionmaker,
        timers,
        _model_without_retries(settings, "plan"),
        runs,
        settings.llm_structured_output,
    )
    embeddings = EmbeddingActivities(sessionmaker, embedding)
    # Its extraction processes start on first use: a worker with nothing stuck has none.
    document_runtime = create_document_runtime(
        settings, sessionmaker, embedding.embedder, embedding.model_id
    )
    documents = DocumentActivities(document_runtime)
    agent_jobs = AgentJobActivities(sessionmaker, _model_without_retries(settings, "chat"), runs)
    # Named, not derived: the SDK's default hashes the source of every loaded module, which
    # takes seconds of CPU at every start. No worker versioning is in use.
    build_id = f"studypilot-{importlib.metadata.version('studypilot')}"
    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[
            ReminderWorkflow,
            AgentJobWorkflow,
            PlanWorkflow,
            EmbedRowWorkflow,
            EmbeddingReconcileWorkflow,
            DocumentReconcileWorkflow,
        ],
        activities=[
            reminders.deliver,
            agent_jobs.run,
            plans.redraft,
            plans.replan,
            embeddings.embed_stale,
            documents.reprocess_stuck,
        ],
        build_id=build_id,
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )
    embedding_worker = Worker(
        client,
        task_queue=embedding_task_queue(settings.temporal_task_queue),
        activities=[embeddings.embed_row],
        max_concurrent_activities=settings.embedding_concurrency,
        build_id=build_id,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )

    async def reconcile() -> None:
        await start_missing_reminder_workflows(sessionmaker, timers)
        await ensure_reconciler_schedules(client, settings.temporal_task_queue)

    reconciler = asyncio.create_task(
        _reconcile_forever(settings.temporal_reconcile_interval_seconds, reconcile)
    )
    try:
        async with worker, embedding_worker:
            logger.info("worker_started", task_queue=settings.temporal_task_queue)
            await stop.wait()
            logger.info("worker_stopping")
    finally:
        reconciler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reconciler
        document_runtime.pool.shutdown()
        await event_bus.aclose()
        await engine.dispose()
