"""Records the workflow histories that `test_replay.py` replays. Run after a deliberate change of
workflow code (then check the replay test fails on the old histories for the reason expected):

    .venv/bin/python -m tests.workflows.record_histories

Starts its own embedded Postgres and Temporal in a temporary directory.
"""

import asyncio
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.embedded_postgres import EmbeddedPostgres
from core.embedded_temporal import EmbeddedTemporal
from core.temporal import connect_temporal
from domain.embeddings.runtime import EmbeddingRuntime
from domain.notes.models import Note
from domain.plans.tracking import PlanTrack, ProgressReport, TrackedSlot
from domain.reminders.models import Reminder
from domain.users.models import User
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.database import server_tempdir
from tests.fixtures.embeddings import HashingEmbedder
from workflows.agent_jobs.inputs import AgentJob
from workflows.agent_jobs.workflow import AgentJobWorkflow
from workflows.embeddings.client import TemporalEmbeddingQueue
from workflows.embeddings.inputs import row_workflow_id
from workflows.plans.inputs import PlanState
from workflows.plans.workflow import PlanWorkflow
from workflows.reminders.client import TemporalReminderTimers
from workflows.reminders.inputs import workflow_id
from workflows.worker import run_worker

HISTORIES = Path(__file__).parent / "histories"


async def _record(settings: Settings) -> None:
    client = await connect_temporal(settings)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    timers = TemporalReminderTimers(client, settings.temporal_task_queue)
    now = datetime.now(UTC)
    async with unit_of_work(sessionmaker) as session:
        user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x", name="R")
        session.add(user)
        await session.flush()
        moved = Reminder(user_id=user.id, remind_at=now + timedelta(seconds=30), message="m")
        cancelled = Reminder(user_id=user.id, remind_at=now + timedelta(hours=1), message="c")
        session.add_all([moved, cancelled])
    stop = asyncio.Event()
    embedding = EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL)
    worker = asyncio.create_task(run_worker(settings, stop, client, embedding=embedding))
    await timers.schedule(moved.id, moved.remind_at)
    await timers.schedule(cancelled.id, cancelled.remind_at)
    await asyncio.sleep(1)
    async with unit_of_work(sessionmaker) as session:
        row = await session.get(Reminder, moved.id)
        assert row is not None
        row.remind_at = datetime.now(UTC) + timedelta(seconds=2)
    await timers.schedule(moved.id, datetime.now(UTC) + timedelta(seconds=2))
    async with unit_of_work(sessionmaker) as session:
        row = await session.get(Reminder, cancelled.id)
        assert row is not None
        row.status = "cancelled"
    await timers.cancel(cancelled.id)
    await client.get_workflow_handle(workflow_id(moved.id)).result()
    for name, reminder in (
        ("reminder_moved_and_delivered", moved),
        ("reminder_cancelled", cancelled),
    ):
        history = await client.get_workflow_handle(workflow_id(reminder.id)).fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
    await _record_plan(client, settings)
    await _record_agent_job(client, settings, user.id)
    await _record_embedding(client, settings, sessionmaker, user.id)
    stop.set()
    await worker
    await engine.dispose()


async def _record_plan(client: Client, settings: Settings) -> None:
    """A plan whose first session is missed (the redraft and the re-plan find no such plan:
    nothing to do), then progress, then a cancel. `plan_missed_progress_cancelled.json`, the
    same story recorded before the agent's redraft activity, stays: running workflows from
    then must still replay."""
    now = datetime.now(UTC)
    slot = TrackedSlot(block_id=uuid.uuid4(), start=now - timedelta(minutes=30), end=now)
    later = TrackedSlot(
        block_id=uuid.uuid4(), start=now + timedelta(hours=1), end=now + timedelta(hours=2)
    )
    track = PlanTrack(
        plan_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        slots=[slot, later],
        ends_at=now + timedelta(days=1),
    )
    handle = await client.start_workflow(
        PlanWorkflow.run,
        PlanState(track=track, grace_seconds=1),
        id=f"plan-{track.plan_id}",
        task_queue=settings.temporal_task_queue,
    )
    await asyncio.sleep(3)
    await handle.signal(PlanWorkflow.progress, ProgressReport(minutes=20, occurred_at=now))
    await handle.signal(PlanWorkflow.cancel)
    await handle.result()
    (HISTORIES / "plan_missed_redrafted_progress_cancelled.json").write_text(
        (await handle.fetch_history()).to_json()
    )


async def _record_agent_job(client: Client, settings: Settings, user_id: uuid.UUID) -> None:
    handle = await client.start_workflow(
        AgentJobWorkflow.run,
        AgentJob(user_id=user_id, kind="morning_agenda"),
        id=f"morning-agenda-{user_id}-record",
        task_queue=settings.temporal_task_queue,
    )
    await handle.result()
    (HISTORIES / "agent_job_morning_agenda.json").write_text(
        (await handle.fetch_history()).to_json()
    )


async def _record_embedding(
    client: Client,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
) -> None:
    """A note embedded after its write, told of a second write while its workflow runs."""
    async with unit_of_work(sessionmaker) as session:
        note = Note(user_id=user_id, title="Osmosis", body="Water crosses", tags=[])
        session.add(note)
    queue = TemporalEmbeddingQueue(client, settings.temporal_task_queue)
    await queue.embed(Note, note.id)
    await queue.embed(Note, note.id)
    handle = client.get_workflow_handle(row_workflow_id("notes", note.id))
    await handle.result()
    (HISTORIES / "embed_row_changed.json").write_text((await handle.fetch_history()).to_json())


async def main() -> None:
    root = server_tempdir("studypilot-record-")
    postgres, temporal = EmbeddedPostgres(root / "pg"), EmbeddedTemporal(root / "temporal")
    try:
        postgres.start()
        temporal.start()
        await ensure_database(postgres.url("postgres", "postgresql"), "record")
        url = postgres.url("record")
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(
            database_url=url, temporal_address=temporal.address, redis_url=None, env="test"
        )
        await _record(settings)
    finally:
        temporal.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
