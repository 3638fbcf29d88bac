"""POST /ai/create-plan and /plans: the model drafts sessions, the scheduler places them legally
in the student's free time, and accepting writes them into the schedule.

The scheduler never places anything before "now", so every date here is relative to today in
the user's zone, and the plans start tomorrow.
"""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from langchain_openai import ChatOpenAI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vcr.cassette import Cassette

from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.courses.models import CourseModule, ModuleCompletion
from domain.plans.models import PlanSession, StudyPlan
from domain.plans.service import PlanService
from domain.reminders.models import Reminder
from domain.schedule.models import ScheduleBlock
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import (
    ScriptedChatModel,
    cassette_provider,
    recorded_usage,
    recording_provider,
    scripted,
    tool_call,
)
from tests.support.scripted_openai import (
    Answer,
    Fault,
    Reply,
    ScriptedOpenAI,
    ToolCall,
    ToolCalls,
)

TOOL = "StudyPlanDraft"
PARIS = ZoneInfo("Europe/Paris")
EVENINGS = [{"weekday": weekday, "start": "18:00", "end": "21:00"} for weekday in range(7)]
CHECKS = (
    "no_overlaps",
    "within_available_hours",
    "before_deadline",
    "after_not_before",
    "in_order",
    "part_lengths_ok",
    "breaks_kept",
    "within_daily_cap",
)


def day(offset: int) -> date:
    """Today plus `offset` days, in Paris (every user here lives there)."""
    return datetime.now(PARIS).date() + timedelta(days=offset)


def at(offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day(offset), time(hour, minute), tzinfo=PARIS)


def slot(
    offset: int, start: tuple[int, int], end: tuple[int, int], part: int = 1
) -> dict[str, Any]:
    """A slot as the API shows it: Paris wall time with its offset."""
    return {
        "part": part,
        "start": at(offset, *start).isoformat(),
        "end": at(offset, *end).isoformat(),
        "schedule_block_id": None,
    }


def session(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"title": "Study", "minutes": 45, "objective": "Learn it."}
    return values | overrides


def drafting(*sessions: dict[str, Any]) -> ScriptedChatModel:
    return scripted(tool_call(TOOL, sessions=list(sessions)))


async def student(session: AsyncSession, **preferences: Any) -> User:
    values: dict[str, Any] = {"available_hours": EVENINGS, "break_minutes": 10}
    return await create_user(
        session, timezone="Europe/Paris", study_preferences=values | preferences
    )


async def module_ids(session: AsyncSession, course_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(CourseModule.id)
        .where(CourseModule.course_id == course_id)
        .order_by(CourseModule.position)
    )
    return list(rows)


async def complete_module(session: AsyncSession, user_id: uuid.UUID, module_id: uuid.UUID) -> None:
    session.add(ModuleCompletion(user_id=user_id, module_id=module_id))
    await session.commit()


async def count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def create_plan(
    client: httpx.AsyncClient, codec: TokenCodec, user: User, **body: Any
) -> httpx.Response:
    body.setdefault("start_date", day(1).isoformat())
    return await client.post("/ai/create-plan", headers=auth_headers(codec, user), json=body)


def sent(model: ScriptedChatModel) -> dict[str, Any]:
    """The data the model was given in its one call."""
    [messages] = model.received
    data: dict[str, Any] = json.loads(str(messages[-1].content))
    return data


async def module_then_review(
    app: FastAPI, client: httpx.AsyncClient, codec: TokenCodec, user: User, **body: Any
) -> dict[str, Any]:
    """A stored draft from day 1 to day 2: a 30-minute session, then a 60-minute review that
    the scheduler splits into two sittings of 30; all three slots fall on day 1's evening."""
    app.state.chat_models.with_model(
        "plan", drafting(session(title="Module", minutes=30), session(title="Review", minutes=60))
    )
    response = await create_plan(client, codec, user, end_date=day(2).isoformat(), **body)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    assert [s["slots"] for s in plan["sessions"]] == [
        [slot(1, (18, 0), (18, 30))],
        [slot(1, (18, 40), (19, 10)), slot(1, (19, 20), (19, 50), part=2)],
    ]
    return plan


async def test_a_plan_that_fits_is_placed_around_the_schedule_with_its_proof(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    course = await create_course(db_session, user.id, modules=2, title="Calculus")
    first, second = await module_ids(db_session, course.id)
    await create_block(db_session, user, at(1, 18), at(1, 19), kind="class", title="Lecture")
    model = drafting(
        session(title="Limits", module_id=str(first), minutes=30, objective="Compute limits."),
        session(title="Rules", module_id=str(second), minutes=30, objective="Differentiate."),
        session(title="Review", minutes=60, objective="Solve past papers."),
    )
    app.state.chat_models.with_model("plan", model)

    response = await create_plan(
        client, codec, user, course_id=str(course.id), end_date=day(3).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in ("status", "title", "goal_id", "course_id", "timezone")} == {
        "status": "draft",
        "title": "Calculus",
        "goal_id": None,
        "course_id": str(course.id),
        "timezone": "Europe/Paris",
    }
    assert (body["start_date"], body["end_date"]) == (day(1).isoformat(), day(3).isoformat())
    assert (body["model"], body["prompt_version"]) == ("ScriptedChatModel", "plan/draft@v2")
    assert body["accepted_at"] is None
    sessions = body["sessions"]
    assert [
        (s["position"], s["title"], s["objective"], s["module_id"], s["minutes"]) for s in sessions
    ] == [
        (0, "Limits", "Compute limits.", str(first), 30),
        (1, "Rules", "Differentiate.", str(second), 30),
        (2, "Review", "Solve past papers.", None, 60),
    ]
    # The lecture takes 18:00-19:00 on day 1; sittings follow it with 10-minute breaks, and
    # the review's second sitting no longer fits before 21:00.
    assert [s["slots"] for s in sessions] == [
        [slot(1, (19, 0), (19, 30))],
        [slot(1, (19, 40), (20, 10))],
        [slot(1, (20, 20), (20, 50)), slot(2, (18, 0), (18, 30), part=2)],
    ]
    assert body["proof"] == {
        **dict.fromkeys(CHECKS, True),
        "minutes_needed": 120,
        "minutes_placed": 120,
        "minutes_short": 0,
        "fits": True,
        "full_days": [day(1).isoformat()],
        "unplaced_sessions": [],
    }

    brief = sent(model)
    assert brief["window"] == {
        "timezone": "Europe/Paris",
        "today": day(0).isoformat(),
        "start_date": day(1).isoformat(),
        "end_date": day(3).isoformat(),
        "minutes_per_day": None,
        "session_minutes": 45,
    }
    assert brief["goal"] is None
    assert [m["id"] for m in brief["course"]["modules"]] == [str(first), str(second)]
    assert brief["remaining_minutes"] == 60

    stored = (await db_session.scalars(select(StudyPlan))).one()
    assert (stored.id, stored.user_id, stored.status, stored.fits) == (
        uuid.UUID(body["id"]),
        user.id,
        "draft",
        True,
    )
    assert await count(db_session, PlanSession) == 3
    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.user_id, run.graph, run.outcome, run.prompt_version) == (
        user.id,
        "plan",
        "ok",
        "plan/draft@v2",
    )
    fetched = await client.get(f"/plans/{body['id']}", headers=auth_headers(codec, user))
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_a_hint_on_busy_time_moves_and_a_free_one_is_kept(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id, title="Exam")
    lecture = await create_block(db_session, user, at(1, 18), at(1, 19), title="Lecture")
    app.state.chat_models.with_model(
        "plan",
        drafting(
            session(title="At the lecture", preferred_start=f"{day(1)}T18:00"),
            session(title="Later", preferred_start=f"{day(2)}T20:00"),
        ),
    )

    response = await create_plan(
        client, codec, user, goal_id=str(goal.id), end_date=day(2).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["slots"] for s in body["sessions"]] == [
        [slot(1, (19, 0), (19, 45))],
        [slot(2, (20, 0), (20, 45))],
    ]
    first = body["sessions"][0]["slots"][0]
    assert datetime.fromisoformat(first["start"]) >= lecture.end_at
    assert body["proof"]["fits"] is True
    assert body["proof"]["no_overlaps"] is True
    assert (body["goal_id"], body["course_id"], body["title"]) == (str(goal.id), None, "Exam")


async def test_not_enough_time_is_stored_and_says_what_is_missing(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(
        db_session,
        available_hours=[{"weekday": d, "start": "18:00", "end": "19:00"} for d in range(7)],
        preferred_session_minutes=60,
        break_minutes=0,
    )
    goal = await create_goal(db_session, user.id)
    app.state.chat_models.with_model(
        "plan",
        drafting(*(session(title=name, minutes=60) for name in ("One", "Two", "Three"))),
    )

    response = await create_plan(
        client, codec, user, goal_id=str(goal.id), end_date=day(2).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["slots"] for s in body["sessions"]] == [
        [slot(1, (18, 0), (19, 0))],
        [slot(2, (18, 0), (19, 0))],
        [],
    ]
    proof = body["proof"]
    assert {k: proof[k] for k in ("minutes_needed", "minutes_placed", "minutes_short")} == {
        "minutes_needed": 180,
        "minutes_placed": 120,
        "minutes_short": 60,
    }
    assert proof["fits"] is False
    assert proof["full_days"] == [day(1).isoformat(), day(2).isoformat()]
    assert proof["unplaced_sessions"] == [2]
    assert all(proof[check] for check in CHECKS)
    stored = (await db_session.scalars(select(StudyPlan))).one()
    assert stored.fits is False
    fetched = await client.get(f"/plans/{body['id']}", headers=auth_headers(codec, user))
    assert fetched.json() == body


async def test_minutes_per_day_tightens_the_daily_cap(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session, max_daily_minutes=120)
    goal = await create_goal(db_session, user.id)
    model = drafting(session(minutes=30), session(minutes=30))
    app.state.chat_models.with_model("plan", model)

    response = await create_plan(
        client,
        codec,
        user,
        goal_id=str(goal.id),
        end_date=day(1).isoformat(),
        minutes_per_day=30,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert [s["slots"] for s in body["sessions"]] == [[slot(1, (18, 0), (18, 30))], []]
    assert body["proof"]["minutes_short"] == 30
    assert body["proof"]["full_days"] == [day(1).isoformat()]
    assert sent(model)["window"]["minutes_per_day"] == 30


@pytest.mark.parametrize(
    ("target_offset", "expected_end_offset"),
    [(20, 20), (None, 13), (300, 180)],
    ids=["goal deadline", "two weeks", "capped at 180 days"],
)
async def test_the_window_defaults_to_today_and_the_goals_deadline(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    target_offset: int | None,
    expected_end_offset: int,
) -> None:
    user = await student(db_session)
    course = await create_course(db_session, user.id, modules=1)
    target = day(target_offset) if target_offset is not None else None
    goal = await create_goal(
        db_session, user.id, course_id=course.id, target_date=target, target_minutes=200
    )
    model = drafting(session())
    app.state.chat_models.with_model("plan", model)

    response = await client.post(
        "/ai/create-plan", headers=auth_headers(codec, user), json={"goal_id": str(goal.id)}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["start_date"], body["end_date"]) == (
        day(0).isoformat(),
        day(expected_end_offset).isoformat(),
    )
    assert (body["goal_id"], body["course_id"]) == (str(goal.id), str(course.id))
    brief = sent(model)
    assert brief["goal"]["target_minutes"] == 200
    assert brief["remaining_minutes"] == 200
    modules = [str(module_id) for module_id in await module_ids(db_session, course.id)]
    assert [m["id"] for m in brief["course"]["modules"]] == modules


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"goal_id": "{goal}", "course_id": "{course}"}, None),
        ({"start_date": "{today}"}, None),
        ({"goal_id": "{goal}", "minutes_per_day": 5}, "minutes_per_day"),
        ({"goal_id": "{goal}", "start_date": "{yesterday}"}, "start_date"),
        ({"goal_id": "{goal}", "start_date": "{next_year_and_a_day}"}, "start_date"),
        ({"goal_id": "{goal}", "start_date": "{tomorrow}", "end_date": "{today}"}, "end_date"),
        ({"goal_id": "{goal}", "start_date": "{today}", "end_date": "{in_181_days}"}, "end_date"),
        ({"goal_id": "{past_goal}"}, "end_date"),
    ],
    ids=[
        "goal and course",
        "no subject",
        "minutes per day",
        "start in the past",
        "start too far ahead",
        "end before start",
        "more than 180 days",
        "goal deadline passed",
    ],
)
async def test_bad_requests_are_422_and_never_reach_the_model(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    body: dict[str, Any],
    field: str | None,
) -> None:
    user = await student(db_session)
    ids = {
        "goal": str((await create_goal(db_session, user.id)).id),
        "past_goal": str((await create_goal(db_session, user.id, target_date=day(-1))).id),
        "course": str((await create_course(db_session, user.id)).id),
        "today": day(0).isoformat(),
        "yesterday": day(-1).isoformat(),
        "tomorrow": day(1).isoformat(),
        "next_year_and_a_day": day(366).isoformat(),
        "in_181_days": day(181).isoformat(),
    }
    model = drafting(session())
    app.state.chat_models.with_model("plan", model)

    response = await client.post(
        "/ai/create-plan",
        headers=auth_headers(codec, user),
        json={
            key: value.format(**ids) if isinstance(value, str) else value
            for key, value in body.items()
        },
    )

    details = assert_error(response, 422, "validation_error")["details"]
    if field is not None:
        assert [d["loc"] for d in details] == [["body", field]]
    assert model.received == []
    assert await count(db_session, StudyPlan) == 0


async def test_accepting_writes_study_blocks_and_reminders_once(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    course = await create_course(db_session, user.id)
    goal = await create_goal(db_session, user.id, course_id=course.id)
    headers = auth_headers(codec, user)
    plan = await module_then_review(app, client, codec, user, goal_id=str(goal.id))

    response = await client.post(f"/plans/{plan['id']}/accept", headers=headers)

    assert response.status_code == 200, response.text
    accepted = response.json()
    assert accepted["status"] == "accepted"
    assert accepted["accepted_at"] is not None
    slots = [slot for s in accepted["sessions"] for slot in s["slots"]]
    assert len(slots) == 3
    assert all(slot["schedule_block_id"] is not None for slot in slots)
    schedule = await client.get(
        "/schedule", headers=headers, params={"from": day(1).isoformat(), "to": day(2).isoformat()}
    )
    assert schedule.status_code == 200, schedule.text
    assert [
        (i["block_id"], i["title"], i["start"], i["end"], i["kind"], i["goal_id"], i["course_id"])
        for i in schedule.json()["items"]
    ] == [
        (s["schedule_block_id"], title, s["start"], s["end"], "study", str(goal.id), str(course.id))
        for s, title in zip(slots, ["Module", "Review", "Review"], strict=True)
    ]
    reminders = (await client.get("/reminders", headers=headers)).json()["items"]
    assert sorted(
        (r["schedule_block_id"], datetime.fromisoformat(r["remind_at"]), r["message"])
        for r in reminders
    ) == sorted(
        (
            s["schedule_block_id"],
            datetime.fromisoformat(s["start"]) - timedelta(minutes=15),
            f"{title} starts in 15 minutes.",
        )
        for s, title in zip(slots, ["Module", "Review", "Review"], strict=True)
    )
    assert (await client.get(f"/plans/{plan['id']}", headers=headers)).json() == accepted

    again = await client.post(f"/plans/{plan['id']}/accept", headers=headers)
    assert assert_error(again, 409, "plan_not_draft")["details"] == {"status": "accepted"}
    assert_error(
        await client.delete(f"/plans/{plan['id']}", headers=headers), 409, "plan_not_draft"
    )
    assert await count(db_session, ScheduleBlock) == 3
    assert await count(db_session, Reminder) == 3


async def test_no_reminder_is_set_for_a_slot_about_to_start(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id)
    plan = await module_then_review(app, client, codec, user, goal_id=str(goal.id))
    # Accepted ten minutes before the first slot: its reminder would be due five minutes ago.
    service = PlanService(db_session, now=lambda: at(1, 17, 50))

    accepted = await service.accept(user, uuid.UUID(plan["id"]))

    block_ids = [slot.schedule_block_id for s in accepted.sessions for slot in s.slots]
    reminded = await db_session.scalars(select(Reminder.schedule_block_id))
    assert sorted(map(str, reminded)) == sorted(map(str, block_ids[1:]))


async def test_accepting_after_the_schedule_changed_is_409_and_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id)
    headers = auth_headers(codec, user)
    plan = await module_then_review(app, client, codec, user, goal_id=str(goal.id))
    added = await client.post(
        "/schedule",
        headers=headers,
        json={
            "title": "Dentist",
            "start": at(1, 18, 15).isoformat(),
            "end": at(1, 18, 45).isoformat(),
            "kind": "other",
        },
    )
    assert added.status_code == 201, added.text

    response = await client.post(f"/plans/{plan['id']}/accept", headers=headers)

    details = assert_error(response, 409, "plan_conflicts")["details"]
    module, review = plan["sessions"]
    assert details == {
        "slots": [
            {
                "session_id": module["id"],
                "position": 0,
                "title": "Module",
                "part": 1,
                "start": at(1, 18).isoformat(),
                "end": at(1, 18, 30).isoformat(),
            },
            {
                "session_id": review["id"],
                "position": 1,
                "title": "Review",
                "part": 1,
                "start": at(1, 18, 40).isoformat(),
                "end": at(1, 19, 10).isoformat(),
            },
        ]
    }
    assert await count(db_session, ScheduleBlock) == 1
    assert await count(db_session, Reminder) == 0
    assert (await client.get(f"/plans/{plan['id']}", headers=headers)).json() == plan


async def test_another_users_goal_course_and_plan_are_404(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await student(db_session), await student(db_session)
    goal = await create_goal(db_session, alice.id)
    private = await create_course(db_session, alice.id, visibility="private")
    public = await create_course(db_session, alice.id, visibility="public", title="Open")
    plan = await module_then_review(app, client, codec, alice, goal_id=str(goal.id))
    model = drafting(session())
    app.state.chat_models.with_model("plan", model)
    headers = auth_headers(codec, bob)

    for body in ({"goal_id": str(goal.id)}, {"course_id": str(private.id)}):
        assert_error(await create_plan(client, codec, bob, **body), 404, "not_found")
    assert_error(await client.get(f"/plans/{plan['id']}", headers=headers), 404, "not_found")
    for method in ("POST", "DELETE"):
        path = f"/plans/{plan['id']}/accept" if method == "POST" else f"/plans/{plan['id']}"
        assert_error(await client.request(method, path, headers=headers), 404, "not_found")
    assert (await client.get("/plans", headers=headers)).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert model.received == []
    assert await count(db_session, StudyPlan) == 1
    assert await count(db_session, ScheduleBlock) == 0

    # A public course may be planned for; its blocks link to it only once Bob enrolls.
    response = await create_plan(client, codec, bob, course_id=str(public.id))
    assert response.status_code == 201, response.text
    accepted = await client.post(f"/plans/{response.json()['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    blocks = (await db_session.scalars(select(ScheduleBlock))).all()
    assert [(b.user_id, b.course_id, b.goal_id) for b in blocks] == [(bob.id, None, None)]


async def test_no_model_configured_is_503_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id)

    response = await create_plan(client, codec, user, goal_id=str(goal.id))

    assert_error(response, 503, "llm_not_configured")
    assert await count(db_session, StudyPlan) == 0
    assert await count(db_session, AgentRun) == 0


def openai_model(server: ScriptedOpenAI) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-test", base_url=server.base_url, api_key=SecretStr("test"), max_retries=0
    )


def draft_json(*sessions: dict[str, Any]) -> str:
    return json.dumps({"sessions": list(sessions)})


async def test_the_draft_is_asked_for_by_strict_json_schema_and_repaired_once(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id)
    replies = [Answer('{"sessions": [{"title": '), Answer(draft_json(session(title="Fixed")))]
    async with ScriptedOpenAI(replies) as server:
        app.state.chat_models.with_model("plan", openai_model(server))
        response = await create_plan(client, codec, user, goal_id=str(goal.id))
        first, repair = server.requests

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["drafted_by"], body["fallback_reason"]) == ("model", None)
    assert [s["title"] for s in body["sessions"]] == ["Fixed"]
    response_format = first["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    # The repair quotes the broken answer and says what was wrong with it.
    said = repair["messages"][-1]["content"]
    assert "could not be used" in said
    assert '{"sessions": [{"title": ' in said
    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.outcome, run.input_tokens > 0) == ("ok", True)


@pytest.mark.parametrize(
    ("replies", "code"),
    [
        ([Fault(503)], "llm_unavailable"),
        ([Fault(400)], "llm_bad_response"),
        ([Answer('{"sessions": [{"title": '), Answer("Not JSON at all.")], "llm_bad_response"),
        ([Answer('{"sessions": []}'), Answer('{"sessions": []}')], "llm_bad_response"),
    ],
    ids=["unavailable", "refused", "malformed twice", "empty draft twice"],
)
async def test_an_unusable_model_gets_a_fallback_plan_with_its_proof(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    replies: list[Reply],
    code: str,
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id, title="Exam", target_minutes=100)
    async with ScriptedOpenAI(replies) as server:
        app.state.chat_models.with_model("plan", openai_model(server))
        response = await create_plan(
            client, codec, user, goal_id=str(goal.id), end_date=day(3).isoformat()
        )
        assert len(server.requests) == len(replies)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["drafted_by"] == "fallback"
    assert "drafted from the course's modules and the work left" in body["fallback_reason"]
    # The goal's 100 minutes left, in sittings of the student's 45-minute sessions.
    assert [(s["title"], s["minutes"]) for s in body["sessions"]] == [
        ("Exam: session 1", 45),
        ("Exam: session 2", 45),
        ("Exam: session 3", 10),
    ]
    assert body["proof"] == {
        **dict.fromkeys(CHECKS, True),
        "minutes_needed": 100,
        "minutes_placed": 100,
        "minutes_short": 0,
        "fits": True,
        "full_days": [],
        "unplaced_sessions": [],
    }
    stored = (await db_session.scalars(select(StudyPlan))).one()
    assert (stored.drafted_by, stored.fallback_reason) == ("fallback", body["fallback_reason"])
    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.graph, run.outcome, run.error_code) == ("plan", "error", code)


async def test_the_fallback_follows_the_courses_open_modules(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    course = await create_course(db_session, user.id, modules=3, title="Calculus")
    first, second, third = await module_ids(db_session, course.id)
    await complete_module(db_session, user.id, first)
    # Text twice: no draft function called, not even after the repair.
    app.state.chat_models.with_model("plan", scripted("Study every evening.", "Really."))

    response = await create_plan(
        client, codec, user, course_id=str(course.id), end_date=day(3).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["drafted_by"] == "fallback"
    assert [(s["title"], s["module_id"], s["minutes"]) for s in body["sessions"]] == [
        ("Module 1", str(second), 30),
        ("Module 2", str(third), 30),
    ]
    assert body["proof"]["fits"] is True
    assert all(body["proof"][check] for check in CHECKS)


async def test_plans_are_listed_newest_first_and_drafts_can_be_deleted(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    goal = await create_goal(db_session, user.id)
    headers = auth_headers(codec, user)
    older = await module_then_review(app, client, codec, user, goal_id=str(goal.id))
    newer = await module_then_review(app, client, codec, user, goal_id=str(goal.id))

    first = await client.get("/plans", headers=headers, params={"limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [item["id"] for item in page["items"]] == [newer["id"]]
    detail_only = {"sessions", "tracking", "replan_proposal"}
    assert page["items"][0] == {k: v for k, v in newer.items() if k not in detail_only}
    second = await client.get("/plans", headers=headers, params={"cursor": page["next_cursor"]})
    assert [item["id"] for item in second.json()["items"]] == [older["id"]]
    assert second.json()["next_cursor"] is None

    deleted = await client.delete(f"/plans/{older['id']}", headers=headers)
    assert deleted.status_code == 204
    assert_error(await client.get(f"/plans/{older['id']}", headers=headers), 404, "not_found")
    assert await count(db_session, StudyPlan) == 1
    assert await count(db_session, PlanSession) == 2


# --- Through the real OpenAI client, replayed from a cassette ---------------------------------

# The recorded draft names day 1 in its hints. The cassette keeps that date as this mark (same
# length, so the recorded Content-Length still holds), and a replay puts its own day 1 back:
# the hints then fall on the same lecture whatever day the test runs.
DAY_MARK = b"YYYY-MM-DD"
RECORDED_DRAFT = {
    "sessions": [
        session(title="At the lecture", preferred_start=f"{day(1)}T18:00"),
        session(title="Later", preferred_start=f"{day(1)}T20:00"),
    ]
}


def _mark_day(response: dict[str, Any]) -> dict[str, Any]:
    body = response["body"]
    body["string"] = body["string"].replace(day(1).isoformat().encode(), DAY_MARK)
    return response


def _replay_on_day_one(cassette: Cassette) -> None:
    for _, response in cassette.data:
        body = response["body"]
        body["string"] = body["string"].replace(DAY_MARK, day(1).isoformat().encode())


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    return vcr_config | {"before_record_response": _mark_day}


@pytest.fixture
async def provider(record_mode: str) -> AsyncIterator[dict[str, str]]:
    """Recording without a provider, the scripted server serves RECORDED_DRAFT, so the
    cassette holds a draft that hints at a busy time."""
    replies = [ToolCalls([ToolCall(TOOL, RECORDED_DRAFT)])]
    async with cassette_provider(record_mode, replies) as settings:
        # Recorded with a forced tool call, the structured-output way every server has.
        yield settings | {"llm_structured_output": "tool_calling"}


@pytest.mark.vcr
async def test_a_recorded_draft_hinting_at_a_busy_time_is_placed_legally(
    provider_client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    vcr: Cassette,
) -> None:
    _replay_on_day_one(vcr)
    user = await student(db_session)
    goal = await create_goal(db_session, user.id, title="Exam")
    await create_block(db_session, user, at(1, 18), at(1, 19), kind="class", title="Lecture")

    response = await create_plan(
        provider_client, codec, user, goal_id=str(goal.id), end_date=day(1).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["model"] == recording_provider()["llm_model"]
    # The hint on the lecture moves to its end; the free hint is kept.
    assert [(s["title"], s["slots"]) for s in body["sessions"]] == [
        ("At the lecture", [slot(1, (19, 0), (19, 45))]),
        ("Later", [slot(1, (20, 0), (20, 45))]),
    ]
    assert body["proof"]["fits"] is True
    assert body["proof"]["no_overlaps"] is True
    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.graph, run.outcome) == ("plan", "ok")
    # Exactly what the recorded response reported: daily budgets are charged from these.
    assert (run.input_tokens, run.output_tokens) == recorded_usage(vcr)


async def _course_with_documents(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, user: User
) -> uuid.UUID:
    course = await create_course(db_session, user.id, modules=0, title="Genetics")
    headers = auth_headers(codec, user)
    markdown = b"# DNA\n\nDouble helix.\n\n## Replication\n\nHelicase.\n\n# RNA\n\nTranscription.\n"
    scan = pdf_bytes([f"Page {n} of the reader." for n in range(1, 13)])
    for name, data in (("genes.md", markdown), ("reader.pdf", scan)):
        uploaded = await client.post(
            "/documents",
            headers=headers,
            files={"file": (name, data, "application/octet-stream")},
            data={"course_id": str(course.id)},
        )
        assert uploaded.status_code == 202, uploaded.text
    return course.id


OUTLINE = [
    "genes: DNA",
    "genes: DNA > Replication",
    "genes: RNA",
    "reader, pages 1-10",
    "reader, pages 11-20",
]


async def test_a_course_without_modules_is_planned_from_its_documents_outline(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    course_id = await _course_with_documents(client, db_session, codec, user)
    model = drafting(session(title="DNA basics"), session(title="RNA"))
    app.state.chat_models.with_model("plan", model)

    response = await create_plan(
        client, codec, user, course_id=str(course_id), end_date=day(3).isoformat()
    )

    assert response.status_code == 201, response.text
    brief = sent(model)
    assert brief["course"]["modules"] == []
    assert brief["course"]["outline"] == OUTLINE


async def test_the_fallback_follows_the_documents_outline_without_modules(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await student(db_session)
    course_id = await _course_with_documents(client, db_session, codec, user)
    app.state.chat_models.with_model("plan", scripted("Study every evening.", "Really."))

    response = await create_plan(
        client, codec, user, course_id=str(course_id), end_date=day(6).isoformat()
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["drafted_by"] == "fallback"
    assert [s["title"] for s in body["sessions"]] == OUTLINE
    assert all(s["module_id"] is None for s in body["sessions"])
