"""Scheduled agent jobs: Temporal Schedules per user and job in the user's zone, paused when
cleared; the job delivers a digest as a notification, worded by the model when there is one."""

import dataclasses
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client, ScheduleOverlapPolicy

from agents.runs import AgentRuns
from core.config import Settings
from core.db import create_sessionmaker
from core.events import create_event_bus
from core.rate_limit import RateLimiter
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.notifications.models import Notification
from domain.users.agent_jobs import AgentJobTimes
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import ScriptedChatModel, scripted
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually
from workflows.agent_jobs.activities import AgentJobActivities
from workflows.agent_jobs.inputs import AgentJobResult, AgentJobRun
from workflows.agent_jobs.schedules import EVERY_DAY, TemporalAgentJobSchedules, _calendar


async def test_job_times_become_schedules_in_the_users_zone_and_pause_when_cleared(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    response = await workflow_client.patch(
        f"/users/{user.id}",
        headers=headers,
        json={
            "timezone": "Europe/Paris",
            "morning_agenda_at": "07:30:00",
            "weekly_review_at": {"weekday": 6, "time": "18:00:00"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["morning_agenda_at"] == "07:30:00"
    assert response.json()["weekly_review_at"] == {"weekday": 6, "time": "18:00:00"}

    morning = await temporal_client.get_schedule_handle(f"morning-agenda-{user.id}").describe()
    assert morning.schedule.spec.time_zone_name == "Europe/Paris"
    assert morning.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert not morning.schedule.state.paused
    paris = ZoneInfo("Europe/Paris")
    for moment in morning.info.next_action_times:
        assert moment.astimezone(paris).time() == time(7, 30)
    weekly = await temporal_client.get_schedule_handle(f"weekly-review-{user.id}").describe()
    for moment in weekly.info.next_action_times:
        local = moment.astimezone(paris)
        assert (local.weekday(), local.time()) == (6, time(18, 0))  # Sundays

    cleared = await workflow_client.patch(
        f"/users/{user.id}", headers=headers, json={"morning_agenda_at": None}
    )
    assert cleared.json()["morning_agenda_at"] is None
    morning = await temporal_client.get_schedule_handle(f"morning-agenda-{user.id}").describe()
    assert morning.schedule.state.paused
    weekly = await temporal_client.get_schedule_handle(f"weekly-review-{user.id}").describe()
    assert not weekly.schedule.state.paused

    await workflow_client.patch(
        f"/users/{user.id}", headers=headers, json={"morning_agenda_at": "06:15:00"}
    )
    morning = await temporal_client.get_schedule_handle(f"morning-agenda-{user.id}").describe()
    assert not morning.schedule.state.paused
    first = morning.info.next_action_times[0].astimezone(paris)
    assert first.time() == time(6, 15)


async def test_a_daily_schedule_keeps_local_time_across_a_dst_change(
    temporal_client: Client, temporal_settings: Settings
) -> None:
    """The spec we build, started just before Paris moves its clocks (28 March 2027): the local
    time stays 07:30 while the UTC time moves an hour."""
    schedules = TemporalAgentJobSchedules(temporal_client, temporal_settings.temporal_task_queue)
    times = AgentJobTimes(uuid.uuid4(), "Europe/Paris", time(7, 30), None)
    schedule = schedules._schedule(times, "morning_agenda", _calendar(time(7, 30), EVERY_DAY))
    schedule = dataclasses.replace(
        schedule,
        spec=dataclasses.replace(schedule.spec, start_at=datetime(2027, 3, 25, tzinfo=UTC)),
    )
    handle = await temporal_client.create_schedule(f"dst-{uuid.uuid4()}", schedule)
    try:
        upcoming = (await handle.describe()).info.next_action_times[:6]
    finally:
        await handle.delete()
    assert [m.astimezone(UTC).hour for m in upcoming] == [6, 6, 6, 5, 5, 5]
    assert {m.astimezone(ZoneInfo("Europe/Paris")).time() for m in upcoming} == {time(7, 30)}


async def test_a_triggered_morning_agenda_is_delivered_with_the_fixed_wording(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    user_id = user.id
    now = datetime.now(UTC)
    await create_block(live_db, user, now + timedelta(minutes=5), title="Organic chemistry")
    await create_goal(
        live_db, user_id, title="Pass the exam", target_date=(now + timedelta(days=3)).date()
    )
    await workflow_client.patch(
        f"/users/{user_id}",
        headers=auth_headers(codec, user),
        json={"morning_agenda_at": "07:00:00"},
    )

    async def delivered() -> list[Notification]:
        live_db.expire_all()
        rows = await live_db.scalars(select(Notification).where(Notification.user_id == user_id))
        return list(rows)

    async with running_worker(temporal_settings, temporal_client):
        await temporal_client.get_schedule_handle(f"morning-agenda-{user_id}").trigger()
        [notification] = await eventually(delivered, within=30)
    assert notification.kind == "morning_agenda"
    assert "Organic chemistry" in notification.body
    assert "Pass the exam" in notification.body
    assert notification.data["written_by"] == "template"
    assert notification.dedupe_key is not None
    assert notification.dedupe_key.startswith(f"morning-agenda-{user_id}")
    # No model configured: no model run.
    assert (await live_db.scalars(select(AgentRun).where(AgentRun.user_id == user_id))).all() == []


class _Broken(ScriptedChatModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("the model did not answer")


async def _run_job(
    live_engine: AsyncEngine, settings: Settings, model: Any, user_id: uuid.UUID, key: str
) -> AgentJobResult:
    sessionmaker = create_sessionmaker(live_engine, create_event_bus(settings))
    runs = AgentRuns(settings, sessionmaker, RateLimiter(None))
    activities = AgentJobActivities(sessionmaker, model, runs)
    return await activities.run(AgentJobRun(user_id=user_id, kind="weekly_review", run_key=key))


async def test_the_model_words_the_review_and_its_run_is_recorded(
    live_db: AsyncSession, live_engine: AsyncEngine, settings: Settings
) -> None:
    user = await create_user(live_db)
    user_id = user.id
    goal = await create_goal(live_db, user_id, title="Statistics", target_minutes=600)
    goal_id = goal.id
    # Planned an hour this week, did nothing: the review proposes a re-plan.
    await create_block(
        live_db, user, datetime.now(UTC) - timedelta(days=1), title="Stats", goal_id=goal_id
    )
    model = scripted("A calm week. Statistics needs an hour: let us re-plan it.")
    result = await _run_job(live_engine, settings, model, user_id, "weekly-review-x-1")
    again = await _run_job(live_engine, settings, scripted("unused"), user_id, "weekly-review-x-1")
    assert result.written_by == "model"
    assert again.notification_id == result.notification_id  # a retried run writes nothing new

    live_db.expire_all()
    [notification] = (
        await live_db.scalars(select(Notification).where(Notification.user_id == user_id))
    ).all()
    assert notification.body == "A calm week. Statistics needs an hour: let us re-plan it."
    assert notification.data["replan_goal_ids"] == [str(goal_id)]
    prompt = model.received[0][0].text
    assert "Statistics" in prompt
    assert '"minutes_planned": 60' in prompt
    [run] = (await live_db.scalars(select(AgentRun).where(AgentRun.user_id == user_id))).all()
    assert (run.graph, run.outcome, run.prompt_version) == (
        "weekly_review",
        "ok",
        "digest/weekly_review@v1",
    )


async def test_a_failing_model_still_delivers_the_fixed_wording_and_records_the_error(
    live_db: AsyncSession, live_engine: AsyncEngine, settings: Settings
) -> None:
    user = await create_user(live_db)
    user_id = user.id
    await create_goal(live_db, user_id, title="Latin")
    result = await _run_job(live_engine, settings, _Broken(messages=iter([])), user_id, "k-2")
    assert result.written_by == "template"
    live_db.expire_all()
    [notification] = (
        await live_db.scalars(select(Notification).where(Notification.user_id == user_id))
    ).all()
    assert "Latin" in notification.body
    [run] = (await live_db.scalars(select(AgentRun).where(AgentRun.user_id == user_id))).all()
    assert (run.outcome, run.error_code) == ("error", "llm_unavailable")
