"""Reminder delivery under load: lag from `remind_at` to the notification row, none lost, none
twice; then the same rate for a bare Temporal workflow (timer + one no-op activity), to see what
StudyPilot's delivery costs over Temporal itself.

    .venv/bin/python -m bench.reminders [--count 2000 --window 60]
        [--step-rate 60 --step-seconds 10]

Starts its own embedded Postgres and Temporal dev server in a temporary directory, and one
worker process (`studypilot worker`, as `make run` does). Writes bench/REMINDER_RESULTS.md.
"""

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare_timer import BareTimer, noop
from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.embedded_postgres import EmbeddedPostgres
from core.embedded_temporal import EmbeddedTemporal
from core.temporal import connect_temporal
from domain.notifications.models import Notification
from domain.reminders.models import Reminder
from domain.users.models import User
from tests.fixtures.database import server_tempdir
from workflows.reminders.client import TemporalReminderTimers

RESULTS = Path(__file__).parent / "REMINDER_RESULTS.md"
START_CONCURRENCY = 64
REMINDERS_PER_USER = 10
# Time to start every workflow before the first is due (the dev server starts ~60/s here while
# the worker takes each one's first task; half that on a loaded machine).
LEAD_SECONDS = 5.0
LEAD_SECONDS_PER_WORKFLOW = 1 / 15


@dataclass
class Lags:
    label: str
    count: int
    delivered: int
    duplicates: int
    lags: list[float]
    seconds: float

    def row(self) -> str:
        ordered = sorted(self.lags)

        def pct(p: float) -> float:
            return (
                ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")
            )

        rate = self.count / self.seconds
        return (
            f"| {self.label} | {self.count:,} | {rate:.0f} | {self.delivered:,} "
            f"| {self.duplicates} | {pct(0.5):.3f} | {pct(0.95):.3f} | {pct(0.99):.3f} "
            f"| {max(ordered):.3f} |"
        )


def _due_times(count: int, seconds: float) -> list[datetime]:
    lead = LEAD_SECONDS + count * LEAD_SECONDS_PER_WORKFLOW
    first = datetime.now(UTC) + timedelta(seconds=lead)
    return [first + timedelta(seconds=seconds * i / count) for i in range(count)]


async def _bounded(jobs: list, limit: int) -> None:  # type: ignore[type-arg]
    semaphore = asyncio.Semaphore(limit)

    async def run(job) -> None:  # type: ignore[no-untyped-def]
        async with semaphore:
            await job()

    await asyncio.gather(*(run(job) for job in jobs))


async def reminders_phase(
    label: str, settings: Settings, client: Client, count: int, seconds: float
) -> Lags:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    dues = _due_times(count, seconds)
    async with unit_of_work(sessionmaker) as session:
        # Spread over students, as in life: one student's events share a per-user sequence.
        users = [
            User(email=f"{uuid.uuid4().hex}@bench.example", password_hash="!", name="Bench")  # noqa: S106 - never logs in
            for _ in range(max(1, count // REMINDERS_PER_USER))
        ]
        session.add_all(users)
        await session.flush()
        reminders = [
            Reminder(user_id=users[n % len(users)].id, remind_at=due, message="bench")
            for n, due in enumerate(dues)
        ]
        session.add_all(reminders)
    timers = TemporalReminderTimers(client, settings.temporal_task_queue)
    await _bounded(
        [lambda r=r: timers.schedule(r.id, r.remind_at) for r in reminders], START_CONCURRENCY
    )
    assert datetime.now(UTC) < dues[0], "starting took longer than the lead: raise the lead"
    ids = [r.id for r in reminders]
    deadline = dues[-1] + timedelta(seconds=120)
    while datetime.now(UTC) < deadline:
        async with engine.connect() as connection:
            sent = await connection.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.reminder_id.in_(ids))
            )
        if sent == count:
            break
        await asyncio.sleep(0.5)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Reminder.remind_at, Notification.created_at)
                .join(Notification, Notification.reminder_id == Reminder.id)
                .where(Reminder.id.in_(ids))
            )
        ).all()
        per_reminder = await connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT reminder_id FROM notifications "
                "WHERE reminder_id = ANY(:ids) GROUP BY reminder_id HAVING count(*) > 1) AS d"
            ),
            {"ids": ids},
        )
    await engine.dispose()
    lags = [(created - due).total_seconds() for due, created in rows]
    return Lags(label, count, len(rows), int(per_reminder or 0), lags, seconds)


async def bare_phase(label: str, client: Client, queue: str, count: int, seconds: float) -> Lags:
    dues = [d.timestamp() for d in _due_times(count, seconds)]
    handles = []

    async def start(due: float) -> None:
        handles.append(
            (
                due,
                await client.start_workflow(
                    BareTimer.run, due, id=f"bare-{uuid.uuid4()}", task_queue=queue
                ),
            )
        )

    await _bounded([lambda d=d: start(d) for d in dues], START_CONCURRENCY)
    results = await asyncio.gather(*(handle.result() for _, handle in handles))
    lags = [ran - due for (due, _), ran in zip(handles, results, strict=True)]
    return Lags(label, count, len(lags), 0, lags, seconds)


def _worker_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "TEMPORAL_ADDRESS": settings.temporal_address or "",
        "STUDYPILOT_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "STUDYPILOT_LOG_LEVEL": "WARNING",
    }
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"], env=env, stdout=handle, stderr=handle
    )


async def bare_worker(client: Client, queue: str, stop: asyncio.Event) -> None:
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareTimer],
        activities=[noop],
        build_id="bench",
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
    ):
        await stop.wait()


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    root = server_tempdir("studypilot-bench-reminders-")
    postgres, temporal = EmbeddedPostgres(root / "pg"), EmbeddedTemporal(root / "temporal")
    worker: subprocess.Popen[bytes] | None = None
    rows: list[Lags] = []
    try:
        postgres.start()
        temporal.start()
        await ensure_database(postgres.url("postgres", "postgresql"), "bench")
        url = postgres.url("bench")
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(database_url=url, temporal_address=temporal.address, env="test")
        client = await connect_temporal(settings)
        worker = _worker_process(settings, root / "worker.log")
        await asyncio.sleep(5)  # the worker process imports and starts polling
        rows.append(await reminders_phase("reminders", settings, client, args.count, args.window))
        step = int(args.step_rate * args.step_seconds)
        rows.append(await reminders_phase("reminders", settings, client, step, args.step_seconds))
        worker.terminate()
        worker.wait(timeout=30)
        # The bare workflow, in a worker of this process (one Python worker either way).
        stop = asyncio.Event()
        bare = asyncio.create_task(bare_worker(client, "bare", stop))
        await asyncio.sleep(1)
        rows.append(await bare_phase("bare Temporal", client, "bare", step, args.step_seconds))
        stop.set()
        await bare
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        temporal.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    _write(rows, args, time.monotonic() - started, (load_before, os.getloadavg()[0]))


def _write(
    rows: list[Lags], args: argparse.Namespace, runtime: float, load: tuple[float, float]
) -> None:
    lines = [
        "# Reminder delivery benchmark",
        "",
        "Generated by the benchmark; re-run to refresh:",
        "",
        "```sh",
        f".venv/bin/python -m bench.reminders --count {args.count} --window {args.window:g} "
        f"--step-rate {args.step_rate:g} --step-seconds {args.step_seconds:g}",
        "```",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (total runtime {runtime / 60:.1f} min)",
        f"- Machine: {os.cpu_count()} cores; {platform.platform()}; "
        f"Python {platform.python_version()}",
        f"- Load average (1 min) before / after: {load[0]:.1f} / {load[1]:.1f} on "
        f"{os.cpu_count()} cores: other processes' work distorts the run when it is high.",
        "- One embedded Temporal dev server (SQLite), one embedded Postgres, one worker process "
        "(`studypilot worker`); benchmark, servers and worker share the same cores.",
        "- Lag: `notifications.created_at` minus `reminders.remind_at` (seconds); for the bare "
        "workflow, the no-op activity's wall clock minus its timer's target. Delivered/duplicates "
        "are counted in the notifications table.",
        "",
        "| Phase | Reminders | Fires/s | Delivered | Duplicates | p50 s | p95 s | p99 s | max s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[row.row() for row in rows],
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--step-rate", type=float, default=60.0)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
    sys.stdout.flush()
    os._exit(0)
