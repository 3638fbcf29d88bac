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

from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.embedded_postgres import EmbeddedPostgres
from core.embedded_temporal import EmbeddedTemporal
from core.temporal import connect_temporal
from domain.reminders.models import Reminder
from domain.users.models import User
from tests.fixtures.database import server_tempdir
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
    worker = asyncio.create_task(run_worker(settings, stop, client))
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
    stop.set()
    await worker
    await engine.dispose()


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
