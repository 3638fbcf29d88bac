"""A worker process SIGKILLed while the timer waits, and again inside the delivery activity:
a new worker delivers the reminder, and the student gets exactly one notification."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowHandle

from core.config import Settings
from core.security import TokenCodec
from domain.notifications.models import Notification
from tests.fixtures.factories.users import auth_headers, create_user
from tests.workflows.waiting import eventually
from workflows.reminders.inputs import workflow_id
from workflows.reminders.workflow import DELIVERY_TIMEOUT

# A bound on a hang, not a speed target: a worker process starts slowly on a loaded machine.
WAIT = 120.0


class WorkerProcesses:
    """`studypilot worker` as real processes on the test's database and task queue."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        assert settings.database_url is not None
        assert settings.temporal_address is not None
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("STUDYPILOT_", "TEMPORAL_"))
            },
            "STUDYPILOT_ENV": "test",
            "DATABASE_URL": settings.database_url,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "STUDYPILOT_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
            "STUDYPILOT_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        }
        self.log_dir = log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"], env=self.env, stdout=log, stderr=log
        )
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(temporal_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcesses]:
    processes = WorkerProcesses(temporal_settings, tmp_path)
    yield processes
    processes.kill_all()


async def _has_event(handle: WorkflowHandle[object, object], event_type: int) -> bool:
    async for event in handle.fetch_history_events():
        if event.event_type == event_type:
            return True
    return False


async def _activity_attempt_running(handle: WorkflowHandle[object, object]) -> int:
    description = await handle.describe()
    for activity in description.raw_description.pending_activities:
        if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            return int(activity.attempt)
    return 0


async def _blocked_on_a_row_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query ILIKE '%FROM reminders%'"
            )
        )
    return bool(waiting)


async def test_killed_workers_lose_nothing_and_deliver_once(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    live_engine: AsyncEngine,
    codec: TokenCodec,
    temporal_client: Client,
    workers: WorkerProcesses,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    # Far enough ahead for a worker process to start on a loaded machine.
    remind_at = datetime.now(UTC) + timedelta(minutes=5)
    created = await workflow_client.post(
        "/reminders", headers=headers, json={"remind_at": remind_at.isoformat(), "message": "Go"}
    )
    reminder_id = created.json()["id"]
    handle = temporal_client.get_workflow_handle(workflow_id(reminder_id))

    # 1. Killed while the durable timer waits; then the reminder is moved while no worker runs.
    first = workers.start()
    await eventually(lambda: _has_event(handle, EventType.EVENT_TYPE_TIMER_STARTED), within=WAIT)
    first.send_signal(signal.SIGKILL)
    first.wait()
    soon = datetime.now(UTC) + timedelta(seconds=3)
    moved = await workflow_client.patch(
        f"/reminders/{reminder_id}", headers=headers, json={"remind_at": soon.isoformat()}
    )
    assert moved.status_code == 200, moved.text

    # 2. Killed inside the delivery activity: it is held on the reminder's row lock, mid-way
    # through its transaction, when the process dies.
    async with live_engine.connect() as blocker:
        transaction = await blocker.begin()
        await blocker.execute(
            text("SELECT id FROM reminders WHERE id = :id FOR UPDATE"), {"id": reminder_id}
        )
        second = workers.start()
        await eventually(lambda: _blocked_on_a_row_lock(live_engine), within=WAIT)
        assert await _activity_attempt_running(handle) == 1
        second.send_signal(signal.SIGKILL)
        second.wait()
        await transaction.rollback()
    assert await _count(live_db, reminder_id) == 0

    # 3. A new worker retries the activity once the killed attempt times out.
    third = workers.start()
    await eventually(
        lambda: _has_event(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED),
        within=DELIVERY_TIMEOUT.total_seconds() + WAIT,
    )
    assert await _count(live_db, reminder_id) == 1
    completed = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert completed[-1].activity_task_started_event_attributes.attempt >= 2
    await asyncio.sleep(1)
    assert await _count(live_db, reminder_id) == 1

    # A graceful stop exits 0 (no abort at interpreter exit).
    third.send_signal(signal.SIGTERM)
    assert third.wait(timeout=30) == 0


async def _count(session: AsyncSession, reminder_id: str) -> int:
    session.expire_all()
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.reminder_id == reminder_id)
    )
    return int(count or 0)
