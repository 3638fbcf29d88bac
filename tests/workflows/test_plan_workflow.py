"""An accepted plan is followed by `plan-<id>`: progress signals, a missed session re-planned
(redrafted by the plan agent when a model is configured, placed by the scheduler and proved),
cancel, and its status on GET /plans/{id}."""

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client

from agents.llm import chat_model
from agents.runs import AgentRuns
from core.config import Settings
from core.db import create_sessionmaker
from core.events import create_event_bus
from core.rate_limit import RateLimiter
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.notifications.models import Notification
from domain.plans.calendar import scheduling_rules
from domain.plans.models import PlanSession, StudyPlan
from domain.plans.replan import MODEL_UNUSABLE
from domain.plans.scheduler import PlacedSlot, SessionRequest
from domain.plans.service import PlanService
from domain.schedule.models import ScheduleBlock
from domain.users.models import User
from tests.domain.scheduler_reference import constraint_violations
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.temporal import running_worker
from tests.support.scripted_openai import Answer, ScriptedOpenAI
from tests.workflows.waiting import eventually
from workflows.plans.activities import PlanActivities
from workflows.plans.inputs import RedraftRequest, ReplanRequest

PROOF = {
    "minutes_needed": 75,
    "minutes_placed": 75,
    "minutes_short": 0,
    **dict.fromkeys(
        [
            "no_overlaps",
            "within_available_hours",
            "before_deadline",
            "after_not_before",
            "in_order",
            "part_lengths_ok",
            "breaks_kept",
            "within_daily_cap",
            "fits",
        ],
        True,
    ),
    "full_days": [],
    "unplaced_sessions": [],
}
EVERY_DAY = [{"weekday": day, "start": "06:00", "end": "22:00"} for day in range(7)]


@pytest.fixture
def plan_settings(temporal_settings: Settings) -> Settings:
    # A session with no progress by a second after its end is missed.
    return temporal_settings.model_copy(update={"plan_missed_grace_seconds": 1.0})


def _slot(start: datetime, minutes: int) -> dict[str, Any]:
    return {
        "part": 1,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "schedule_block_id": None,
    }


async def _draft(session: AsyncSession, user: User, goal_id: Any, first_ends: datetime) -> Any:
    """A draft whose first session ends in a few seconds and whose second is tomorrow."""
    tomorrow = (first_ends + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    plan = StudyPlan(
        user_id=user.id,
        goal_id=goal_id,
        title="Thermodynamics",
        timezone="UTC",
        start_date=first_ends.date(),
        end_date=first_ends.date() + timedelta(days=3),
        fits=True,
        proof=PROOF,
        model="test",
        prompt_version="plan/draft@v1",
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
                slots=[_slot(tomorrow, 45)],
            ),
        ],
    )
    session.add(plan)
    await session.commit()
    return plan.id


async def _tracking(client: httpx.AsyncClient, headers: dict[str, str], plan_id: Any) -> Any:
    response = await client.get(f"/plans/{plan_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["tracking"]


@pytest.fixture
async def planner(live_db: AsyncSession) -> User:
    return await create_user(live_db, study_preferences={"available_hours": EVERY_DAY})


async def test_progress_is_followed_and_a_cancel_removes_the_future_sessions(
    live_db: AsyncSession,
    planner: User,
    codec: TokenCodec,
    plan_settings: Settings,
    temporal_client: Client,
    workflow_client_for: Any,
) -> None:
    client = await workflow_client_for(plan_settings)
    user_id = planner.id
    headers = auth_headers(codec, planner)
    goal = await create_goal(live_db, user_id, title="Physics", target_minutes=600)
    goal_id = goal.id
    plan_id = await _draft(live_db, planner, goal_id, datetime.now(UTC) + timedelta(seconds=5))
    async with running_worker(plan_settings, temporal_client):
        accepted = await client.post(f"/plans/{plan_id}/accept", headers=headers)
        assert accepted.status_code == 200, accepted.text
        tracking = await eventually(lambda: _tracking(client, headers, plan_id))
        assert (tracking["status"], tracking["minutes_planned"], tracking["minutes_done"]) == (
            "active",
            75,
            0,
        )
        logged = await client.post(
            f"/goals/{goal_id}/progress", headers=headers, json={"minutes": 25}
        )
        assert logged.status_code == 201, logged.text

        async def done_25() -> Any:
            tracking = await _tracking(client, headers, plan_id)
            return tracking if tracking["minutes_done"] == 25 else None

        tracking = await eventually(done_25)
        assert tracking["status"] == "active"  # the session was practised: no re-plan

        cancelled = await client.post(f"/plans/{plan_id}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"

        async def ended() -> Any:
            tracking = await _tracking(client, headers, plan_id)
            return tracking if tracking and tracking["status"] == "cancelled" else None

        assert (await eventually(ended))["next_session_at"] is None
    live_db.expire_all()
    titles = (
        await live_db.scalars(select(ScheduleBlock.title).where(ScheduleBlock.user_id == user_id))
    ).all()
    assert titles == ["First law"]  # the past session stays, the one ahead is gone
    again = await client.post(f"/plans/{plan_id}/cancel", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "plan_not_active")


async def test_a_missed_session_is_replanned_by_the_scheduler_and_the_student_told(
    live_db: AsyncSession,
    planner: User,
    codec: TokenCodec,
    plan_settings: Settings,
    temporal_client: Client,
    workflow_client_for: Any,
) -> None:
    client = await workflow_client_for(plan_settings)
    user_id = planner.id
    headers = auth_headers(codec, planner)
    goal = await create_goal(live_db, user_id, title="Physics", target_minutes=600)
    missed_at = datetime.now(UTC) + timedelta(seconds=4)
    plan_id = await _draft(live_db, planner, goal.id, missed_at)
    async with running_worker(plan_settings, temporal_client):
        assert (await client.post(f"/plans/{plan_id}/accept", headers=headers)).status_code == 200

        async def replanned() -> Any:
            tracking = await _tracking(client, headers, plan_id)
            return tracking if tracking and tracking["status"] == "replanned" else None

        tracking = await eventually(replanned, within=30)
    assert (tracking["missed_sessions"], tracking["replans"]) == (1, 1)
    assert tracking["minutes_planned"] == 75
    assert datetime.fromisoformat(tracking["next_session_at"]) > missed_at

    plan = (await client.get(f"/plans/{plan_id}", headers=headers)).json()
    proof = plan["proof"]
    assert proof["fits"], proof
    assert proof["minutes_needed"] == proof["minutes_placed"] == 75
    slots = [slot for session in plan["sessions"] for slot in session["slots"]]
    assert all(datetime.fromisoformat(slot["start"]) > missed_at for slot in slots)
    # The brute-force reference, written apart from the scheduler, agrees the new slots obey
    # every rule (the student's calendar holds nothing else).
    placed = [
        PlacedSlot(
            session["position"],
            slot["part"],
            datetime.fromisoformat(slot["start"]).astimezone(UTC),
            datetime.fromisoformat(slot["end"]).astimezone(UTC),
        )
        for session in plan["sessions"]
        for slot in session["slots"]
    ]
    requests = [SessionRequest("First law", 30), SessionRequest("Second law", 45)]
    today = missed_at.date()
    not_before = missed_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    rules = scheduling_rules(planner, today, today + timedelta(days=3), not_before)
    assert constraint_violations(placed, requests, [], rules) == []

    live_db.expire_all()
    blocks = (
        await live_db.scalars(select(ScheduleBlock).where(ScheduleBlock.user_id == user_id))
    ).all()
    assert sorted(str(block.id) for block in blocks) == sorted(
        slot["schedule_block_id"] for slot in slots
    )
    ordered = sorted(blocks, key=lambda block: block.start_at)
    assert all(a.end_at <= b.start_at for a, b in itertools.pairwise(ordered))
    [notice] = (
        await live_db.scalars(
            select(Notification).where(Notification.user_id == user_id, Notification.kind == "plan")
        )
    ).all()
    assert "missed 1 session" in notice.body
    assert "No language model is configured" in notice.body  # why the agent did not redraft
    assert notice.data == {"plan_id": str(plan_id), "replanned_by": "scheduler"}


def _redrafted(title: str, minutes: int) -> dict[str, Any]:
    return {
        "title": title,
        "module_id": None,
        "minutes": minutes,
        "objective": f"{title} done.",
        "preferred_start": None,
    }


async def test_a_missed_session_is_redrafted_by_the_plan_agent_and_placed_by_the_scheduler(
    live_db: AsyncSession,
    planner: User,
    codec: TokenCodec,
    plan_settings: Settings,
    temporal_client: Client,
    workflow_client_for: Any,
) -> None:
    redraft = {"sessions": [_redrafted("First law, again", 20), _redrafted("Second law", 40)]}
    async with ScriptedOpenAI([Answer(json.dumps(redraft))]) as provider:
        settings = plan_settings.model_copy(
            update={
                "openai_base_url": provider.base_url,
                "openai_api_key": "test",
                "llm_model": "gpt-test",
            }
        )
        client = await workflow_client_for(settings)
        user_id = planner.id
        headers = auth_headers(codec, planner)
        goal = await create_goal(live_db, user_id, title="Physics", target_minutes=600)
        missed_at = datetime.now(UTC) + timedelta(seconds=4)
        plan_id = await _draft(live_db, planner, goal.id, missed_at)
        async with running_worker(settings, temporal_client):
            accepted = await client.post(f"/plans/{plan_id}/accept", headers=headers)
            assert accepted.status_code == 200, accepted.text

            async def replanned() -> Any:
                tracking = await _tracking(client, headers, plan_id)
                return tracking if tracking and tracking["status"] == "replanned" else None

            tracking = await eventually(replanned, within=30)
        [request] = provider.requests
    # The agent was told what was missed and what is owed.
    brief = json.loads(request["messages"][-1]["content"])
    assert (brief["missed_sessions"], brief["minutes_owed"]) == (1, 75)
    assert [owed["title"] for owed in brief["owed"]] == ["First law", "Second law"]
    assert tracking["minutes_planned"] == 60

    plan = (await client.get(f"/plans/{plan_id}", headers=headers)).json()
    assert [session["title"] for session in plan["sessions"]] == ["First law, again", "Second law"]
    proof = plan["proof"]
    assert proof["fits"], proof
    assert proof["minutes_needed"] == proof["minutes_placed"] == 60
    first = plan["sessions"][0]["position"]
    placed = [
        PlacedSlot(
            session["position"] - first,
            slot["part"],
            datetime.fromisoformat(slot["start"]).astimezone(UTC),
            datetime.fromisoformat(slot["end"]).astimezone(UTC),
        )
        for session in plan["sessions"]
        for slot in session["slots"]
    ]
    requests = [SessionRequest("First law, again", 20), SessionRequest("Second law", 40)]
    today = missed_at.date()
    not_before = missed_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    rules = scheduling_rules(planner, today, today + timedelta(days=3), not_before)
    assert constraint_violations(placed, requests, [], rules) == []

    live_db.expire_all()
    blocks = (
        await live_db.scalars(select(ScheduleBlock.title).where(ScheduleBlock.user_id == user_id))
    ).all()
    assert sorted(blocks) == ["First law, again", "Second law"]
    [run] = (await live_db.scalars(select(AgentRun).where(AgentRun.user_id == user_id))).all()
    assert (run.graph, run.prompt_version, run.outcome) == ("plan", "plan/replan@v1", "ok")
    assert run.input_tokens > 0
    [notice] = (
        await live_db.scalars(
            select(Notification).where(Notification.user_id == user_id, Notification.kind == "plan")
        )
    ).all()
    assert "redrafted by the plan assistant into 2 session(s)" in notice.body
    assert notice.data == {"plan_id": str(plan_id), "replanned_by": "agent"}


async def test_with_auto_replan_off_a_missed_session_is_proposed_and_applied_on_accept(
    live_db: AsyncSession,
    planner: User,
    codec: TokenCodec,
    plan_settings: Settings,
    temporal_client: Client,
    workflow_client_for: Any,
) -> None:
    client = await workflow_client_for(plan_settings)
    user_id = planner.id
    headers = auth_headers(codec, planner)
    goal = await create_goal(live_db, user_id, title="Physics", target_minutes=600)
    missed_at = datetime.now(UTC) + timedelta(seconds=4)
    plan_id = await _draft(live_db, planner, goal.id, missed_at)

    async def block_ids() -> list[str]:
        live_db.expire_all()
        rows = await live_db.scalars(
            select(ScheduleBlock.id).where(ScheduleBlock.user_id == user_id)
        )
        return sorted(str(block_id) for block_id in rows)

    async with running_worker(plan_settings, temporal_client):
        accepted = await client.post(
            f"/plans/{plan_id}/accept", headers=headers, json={"auto_replan": False}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["auto_replan"] is False
        before = await block_ids()

        async def proposed() -> Any:
            plan = (await client.get(f"/plans/{plan_id}", headers=headers)).json()
            return plan if plan["replan_proposal"] else None

        plan = await eventually(proposed, within=30)
        proposal = plan["replan_proposal"]
        assert plan["tracking"]["status"] == "behind"
        assert await block_ids() == before  # proposed, not applied
        assert sorted(proposal["replaced_block_ids"]) == before  # the missed one and the next
        assert proposal["replanned_by"] == "scheduler"
        assert proposal["proof"]["fits"]
        assert [s["position"] for s in proposal["sessions"]] == [0, 1]
        live_db.expire_all()
        [notice] = (
            await live_db.scalars(select(Notification).where(Notification.user_id == user_id))
        ).all()
        assert notice.data["proposal_id"] == proposal["id"]
        assert "Nothing changed yet" in notice.body

        applied = await client.post(
            f"/plans/{plan_id}/replan/accept",
            headers=headers,
            json={"proposal_id": proposal["id"]},
        )
        assert applied.status_code == 200, applied.text
        assert applied.json()["replan_proposal"] is None
        slots = [slot for session in applied.json()["sessions"] for slot in session["slots"]]
        assert [(s["start"], s["end"]) for s in slots] == [
            (slot["start"], slot["end"])
            for session in proposal["sessions"]
            for slot in session["slots"]
        ]
        after = await block_ids()
        assert after == sorted(slot["schedule_block_id"] for slot in slots)
        assert not set(after) & set(before)

        async def followed() -> Any:
            tracking = await _tracking(client, headers, plan_id)
            return tracking if tracking["status"] == "replanned" else None

        tracking = await eventually(followed)
        assert (tracking["replans"], tracking["minutes_planned"]) == (1, 75)
        assert datetime.fromisoformat(tracking["next_session_at"]) == datetime.fromisoformat(
            slots[0]["start"]
        )
        again = await client.post(
            f"/plans/{plan_id}/replan/accept",
            headers=headers,
            json={"proposal_id": proposal["id"]},
        )
        assert (again.status_code, again.json()["code"]) == (409, "replan_proposal_stale")


class _NoTimers:
    """Reminders are not what this test follows: their timers start nowhere."""

    async def schedule(self, reminder_id: uuid.UUID, remind_at: datetime) -> None:
        return None

    async def cancel(self, reminder_id: uuid.UUID) -> None:
        return None


async def test_an_unusable_redraft_falls_back_to_the_owed_sessions_and_says_why(
    live_db: AsyncSession, live_engine: AsyncEngine, planner: User, settings: Settings
) -> None:
    """The agent's activity and the writing one, called as the workflow calls them: an answer
    that stays unusable after the graph's repair is recorded as a failed run, and the owed
    sessions are placed again, the student told why."""
    user_id = planner.id
    goal = await create_goal(live_db, user_id, title="Physics", target_minutes=600)
    plan_id = await _draft(live_db, planner, goal.id, datetime.now(UTC) + timedelta(hours=1))
    await PlanService(live_db).accept(planner, plan_id)
    await live_db.commit()
    sessionmaker = create_sessionmaker(live_engine, create_event_bus(settings))
    async with ScriptedOpenAI([Answer("Sure! Study more."), Answer("{}")]) as provider:
        provided = settings.model_copy(
            update={"openai_base_url": provider.base_url, "llm_model": "gpt-test"}
        )
        model = chat_model(provided.model_copy(update={"llm_max_retries": 0}), "plan")
        activities = PlanActivities(
            sessionmaker,
            _NoTimers(),
            model,
            AgentRuns(settings, sessionmaker, RateLimiter(None)),
            "json_schema",
        )
        draft = await activities.redraft(RedraftRequest(plan_id=plan_id, missed_block_ids=[]))
    assert (draft.usable, draft.fallback_reason) == (False, MODEL_UNUSABLE)
    result = await activities.replan(
        ReplanRequest(plan_id=plan_id, missed_block_ids=[], draft=draft)
    )
    assert result.replanned
    live_db.expire_all()
    [run] = (await live_db.scalars(select(AgentRun).where(AgentRun.user_id == user_id))).all()
    assert (run.prompt_version, run.outcome, run.error_code) == (
        "plan/replan@v1",
        "error",
        "llm_bad_response",
    )
    [notice] = (
        await live_db.scalars(
            select(Notification).where(Notification.user_id == user_id, Notification.kind == "plan")
        )
    ).all()
    assert MODEL_UNUSABLE in notice.body
    assert notice.data["replanned_by"] == "scheduler"
    titles = (
        await live_db.scalars(select(PlanSession.title).where(PlanSession.plan_id == plan_id))
    ).all()
    assert sorted(titles) == ["First law", "Second law"]  # what was owed, as it was
