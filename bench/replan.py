"""Re-plan latency: from the start of the plan agent's activity (`redraft_plan`) to the
completion of the activity that committed the new blocks (`replan_plan`), read from each plan
workflow's history; and the same without a model (the owed sessions placed again).

    .venv/bin/python -m bench.replan [--plans 20] [--spacing 0]

Starts its own embedded Postgres and Temporal dev server in a temporary directory, a scripted
OpenAI-compatible server (real HTTP, the real client; the "model" answers at once) and a worker
in this process. Each run accepts `--plans` plans whose first sessions end within seconds,
`--spacing` seconds apart: 0 has them all missed at about the same time, a few seconds has them
re-planned one after another (warm, uncontended). Prints a Markdown table.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.db import create_engine, create_sessionmaker, unit_of_work
from core.embedded_postgres import EmbeddedPostgres
from core.embedded_temporal import EmbeddedTemporal
from core.temporal import connect_temporal
from domain.goals.models import Goal
from domain.plans.models import PlanSession, StudyPlan
from domain.plans.schemas import PlanProof
from domain.plans.service import PlanService
from domain.users.models import User
from tests.fixtures.database import server_tempdir
from tests.support.scripted_openai import Answer, ScriptedOpenAI
from workflows.plans.client import TemporalPlanTracker
from workflows.plans.inputs import workflow_id
from workflows.reminders.client import TemporalReminderTimers
from workflows.worker import run_worker

EVERY_DAY = [{"weekday": day, "start": "00:00", "end": "23:59"} for day in range(7)]
REDRAFT = {
    "sessions": [
        {
            "title": title,
            "module_id": None,
            "minutes": minutes,
            "objective": f"{title} done.",
            "preferred_start": None,
        }
        for title, minutes in (("Catch up", 30), ("Second law", 45), ("Review", 20))
    ]
}


def _proof(minutes: int) -> dict[str, Any]:
    checks = dict.fromkeys(PlanProof.model_fields, True)
    return PlanProof.model_validate(
        {
            **checks,
            "minutes_needed": minutes,
            "minutes_placed": minutes,
            "minutes_short": 0,
            "full_days": [],
            "unplaced_sessions": [],
        }
    ).model_dump(mode="json")


def _slot(start: datetime, minutes: int) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {
        "part": 1,
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
        "schedule_block_id": None,
    }


async def _accept_plans(
    settings: Settings, client: Client, count: int, spacing: float
) -> list[uuid.UUID]:
    """`count` accepted plans, their first sessions ending a few seconds ahead, `spacing`
    seconds apart."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    tracker = TemporalPlanTracker(client, settings.temporal_task_queue, 1.0)
    timers = TemporalReminderTimers(client, settings.temporal_task_queue)
    ends = datetime.now(UTC) + timedelta(seconds=4)
    plan_ids = []
    for index in range(count):
        first_ends = ends + timedelta(seconds=index * spacing)
        async with unit_of_work(sessionmaker) as session:
            user = User(
                email=f"{uuid.uuid4().hex}@example.com",
                password_hash="x",  # noqa: S106 - nobody logs in
                name=f"Bench {index}",
                study_preferences={"available_hours": EVERY_DAY},
            )
            session.add(user)
            await session.flush()
            goal = Goal(user_id=user.id, title="Physics", target_minutes=600)
            session.add(goal)
            await session.flush()
            plan = StudyPlan(
                user_id=user.id,
                goal_id=goal.id,
                title="Thermodynamics",
                timezone="UTC",
                start_date=ends.date(),
                end_date=ends.date() + timedelta(days=3),
                fits=True,
                proof=_proof(75),
                model="bench",
                prompt_version="plan/draft@v2",
                sessions=[
                    PlanSession(
                        position=0,
                        title="First law",
                        objective="Energy balance",
                        minutes=30,
                        slots=[_slot(first_ends - timedelta(minutes=30), 30)],
                    ),
                    PlanSession(
                        position=1,
                        title="Second law",
                        objective="Entropy",
                        minutes=45,
                        slots=[_slot(ends + timedelta(days=1), 45)],
                    ),
                ],
            )
            session.add(plan)
            await session.flush()
            service = PlanService(session, reminder_timers=timers, tracker=tracker)
            await service.accept(user, plan.id)
            plan_ids.append(plan.id)
    await engine.dispose()
    return plan_ids


async def _latencies(client: Client, plan_ids: list[uuid.UUID]) -> list[tuple[float, float, float]]:
    """Per plan: first activity started → new blocks committed; of which the agent's activity,
    and the writing activity (started → completed)."""
    found = []
    for plan_id in plan_ids:
        history = await client.get_workflow_handle(workflow_id(plan_id)).fetch_history()
        scheduled: dict[int, str] = {}
        started: dict[str, datetime] = {}
        completed: dict[str, datetime] = {}
        for event in history.events:
            at = event.event_time.ToDatetime(tzinfo=UTC)
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = (
                    event.activity_task_scheduled_event_attributes.activity_type.name
                )
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                name = scheduled[event.activity_task_started_event_attributes.scheduled_event_id]
                started.setdefault(name, at)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                name = scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
                completed[name] = at
        first = started["redraft_plan"]
        found.append(
            (
                (completed["replan_plan"] - first).total_seconds(),
                (completed["redraft_plan"] - first).total_seconds(),
                (completed["replan_plan"] - started["replan_plan"]).total_seconds(),
            )
        )
    return found


async def _run(settings: Settings, count: int, spacing: float, label: str) -> str:
    client = await connect_temporal(settings)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop, client))
    try:
        plan_ids = await _accept_plans(settings, client, count, spacing)
        # The first sessions end within seconds; the grace is one second.
        deadline = asyncio.get_running_loop().time() + 60 + count * spacing
        while True:
            try:
                latencies = await _latencies(client, plan_ids)
                break
            except KeyError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(1)
    finally:
        stop.set()
        await worker
    totals = sorted(total for total, _, _ in latencies)
    agent = statistics.median(model for _, model, _ in latencies)
    write = statistics.median(write for _, _, write in latencies)
    return (
        f"| {label} | {count} | {statistics.median(totals) * 1000:.0f} | "
        f"{totals[-1] * 1000:.0f} | {agent * 1000:.0f} | {write * 1000:.0f} |"
    )


async def main(count: int, spacing: float) -> None:
    root = server_tempdir("studypilot-bench-replan-")
    postgres, temporal = EmbeddedPostgres(root / "pg"), EmbeddedTemporal(root / "temporal")
    try:
        postgres.start()
        temporal.start()
        await ensure_database(postgres.url("postgres", "postgresql"), "bench")
        url = postgres.url("bench")
        await asyncio.to_thread(migrate.upgrade, url)
        base = Settings(
            database_url=url,
            temporal_address=temporal.address,
            redis_url=None,
            env="test",
            plan_missed_grace_seconds=1.0,
        )
        rows = []
        async with ScriptedOpenAI(responder=lambda _: Answer(json.dumps(REDRAFT))) as provider:
            with_model = base.model_copy(
                update={
                    "openai_base_url": provider.base_url,
                    "openai_api_key": "bench",
                    "llm_model": "gpt-bench",
                    "temporal_task_queue": "bench-agent",
                }
            )
            rows.append(await _run(with_model, count, spacing, "plan agent (scripted model)"))
        without = base.model_copy(update={"temporal_task_queue": "bench-scheduler"})
        rows.append(await _run(without, count, spacing, "no model: owed sessions placed again"))
        print("| re-plan | plans | p50 ms | max ms | agent activity p50 ms | write p50 ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        print("\n".join(rows))
    finally:
        temporal.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=0.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.plans, arguments.spacing))
