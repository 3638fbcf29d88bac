import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.security import TokenCodec
from domain.goals.models import Goal, GoalProgressEvent
from domain.goals.schemas import ProgressEventCreate
from domain.goals.service import GoalService, IdempotencyKeyReusedError
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.courses import create_course, enroll
from tests.fixtures.factories.goals import create_event, create_goal
from tests.fixtures.factories.users import auth_headers, create_user

PROGRESS_KEYS = {"percent", "minutes_done", "modules_done", "streak_days", "on_track"}


async def count_goals(session: AsyncSession, **where: Any) -> int:
    statement = select(func.count()).select_from(Goal).filter_by(**where)
    return int(await session.scalar(statement) or 0)


async def count_events(session: AsyncSession, goal_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(GoalProgressEvent).filter_by(goal_id=goal_id)
    return int(await session.scalar(statement) or 0)


async def stored_goal(session: AsyncSession, goal_id: uuid.UUID) -> Goal:
    goal = await session.get(Goal, goal_id, populate_existing=True)
    assert goal is not None
    return goal


# --- create -------------------------------------------------------------------------------------


async def test_create_a_goal_starts_active_with_empty_progress(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.post(
        "/goals",
        headers=auth_headers(codec, user),
        json={"title": "Finish calculus", "description": "Chapters 1-4", "target_minutes": 600},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Finish calculus"
    assert body["description"] == "Chapters 1-4"
    assert body["status"] == "active"
    assert body["target_minutes"] == 600
    assert body["target_modules"] is None
    assert body["completed_at"] is None
    assert body["progress"] == {
        "percent": 0.0,
        "minutes_done": 0,
        "modules_done": 0,
        "streak_days": 0,
        "on_track": True,
    }
    stored = await stored_goal(db_session, uuid.UUID(body["id"]))
    assert stored.user_id == user.id
    assert stored.target_minutes == 600


async def test_create_with_a_course_the_user_owns_or_is_enrolled_in(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, teacher = await create_user(db_session), await create_user(db_session)
    own = await create_course(db_session, user.id)
    taken = await create_course(db_session, teacher.id, visibility="public")
    await enroll(db_session, user.id, taken.id)
    headers = auth_headers(codec, user)
    for course in (own, taken):
        response = await client.post(
            "/goals", headers=headers, json={"title": "x", "course_id": str(course.id)}
        )
        assert response.status_code == 201, response.text
        assert response.json()["course_id"] == str(course.id)


async def test_create_with_a_course_the_user_cannot_use_is_404_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    private = await create_course(db_session, other.id)
    # Public but not enrolled: readable, yet not one of the user's courses.
    public = await create_course(db_session, other.id, visibility="public")
    headers = auth_headers(codec, user)
    for course_id in (private.id, public.id, uuid.uuid4()):
        response = await client.post(
            "/goals", headers=headers, json={"title": "x", "course_id": str(course_id)}
        )
        assert_error(response, 404, "not_found")
    assert await count_goals(db_session, user_id=user.id) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "target_minutes": 60, "target_modules": 3},
        {"title": ""},
        {"title": "nul\u0000byte"},
        {"title": "x", "target_minutes": 0},
        {"title": "x", "target_modules": -1},
        {"title": "x", "status": "completed"},
        {"description": "no title"},
    ],
)
async def test_invalid_goals_are_422_and_write_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, body: dict[str, Any]
) -> None:
    user = await create_user(db_session)
    response = await client.post("/goals", headers=auth_headers(codec, user), json=body)
    error = assert_error(response, 422, "validation_error")
    assert error["details"]
    assert await count_goals(db_session, user_id=user.id) == 0


async def test_a_target_date_in_the_past_is_accepted_but_not_on_track(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    response = await client.post(
        "/goals",
        headers=auth_headers(codec, user),
        json={"title": "Too late", "target_date": yesterday.isoformat(), "target_modules": 2},
    )
    assert response.status_code == 201, response.text
    assert response.json()["target_date"] == yesterday.isoformat()
    assert response.json()["progress"]["on_track"] is False


async def test_goals_require_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/goals"), 401, "unauthorized")
    assert_error(await client.post("/goals", json={"title": "x"}), 401, "unauthorized")


# --- read and list ------------------------------------------------------------------------------


async def test_get_returns_the_goal_with_its_progress(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_modules=4)
    await create_event(db_session, goal, minutes=20, modules_completed=1)
    await create_event(db_session, goal, minutes=0, modules_completed=2)
    response = await client.get(f"/goals/{goal.id}", headers=auth_headers(codec, user))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(goal.id)
    assert set(body["progress"]) == PROGRESS_KEYS
    assert body["progress"]["modules_done"] == 3
    assert body["progress"]["minutes_done"] == 20
    assert body["progress"]["percent"] == 75.0
    assert body["progress"]["streak_days"] == 1


async def test_list_shows_only_the_callers_goals_newest_first_in_pages(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    goals = [await create_goal(db_session, user.id) for _ in range(5)]
    await create_goal(db_session, other.id)
    headers = auth_headers(codec, user)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/goals", headers=headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 2
        assert all(set(item["progress"]) == PROGRESS_KEYS for item in body["items"])
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(goal.id) for goal in reversed(goals)]


async def test_list_filters_by_status_and_course(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(db_session, user.id)
    in_course = await create_goal(db_session, user.id, course_id=course.id)
    paused = await create_goal(db_session, user.id, status="paused")
    await create_goal(db_session, user.id)
    headers = auth_headers(codec, user)

    response = await client.get("/goals", headers=headers, params={"status": "paused"})
    assert [item["id"] for item in response.json()["items"]] == [str(paused.id)]
    response = await client.get("/goals", headers=headers, params={"course_id": str(course.id)})
    assert [item["id"] for item in response.json()["items"]] == [str(in_course.id)]
    response = await client.get(
        "/goals", headers=headers, params={"course_id": str(course.id), "status": "paused"}
    )
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [{"status": "finished"}, {"limit": 101}, {"limit": 0}, {"course_id": "not-a-uuid"}],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, params: dict[str, Any]
) -> None:
    user = await create_user(db_session)
    response = await client.get("/goals", headers=auth_headers(codec, user), params=params)
    assert_error(response, 422, "validation_error")


async def test_a_garbage_cursor_is_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get(
        "/goals", headers=auth_headers(codec, user), params={"cursor": "not-a-cursor"}
    )
    assert_error(response, 422, "invalid_cursor")


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_page_of_goals_reads_progress_in_one_query(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    statements: list[str],
) -> None:
    user = await create_user(db_session)
    for minutes in (10, 20, 30, 40, 50):
        goal = await create_goal(db_session, user.id, target_minutes=100)
        await create_event(db_session, goal, minutes=minutes)
        await create_event(db_session, goal, minutes=minutes)
    statements.clear()
    response = await client.get("/goals", headers=auth_headers(codec, user))
    assert response.status_code == 200
    # Each goal got its own sums, newest first.
    assert [item["progress"]["minutes_done"] for item in response.json()["items"]] == [
        100,
        80,
        60,
        40,
        20,
    ]
    assert [item["progress"]["percent"] for item in response.json()["items"]] == [
        100.0,
        80.0,
        60.0,
        40.0,
        20.0,
    ]
    event_reads = [s for s in statements if "goal_progress_events" in s]
    assert len(event_reads) == 1, event_reads


# --- update and delete --------------------------------------------------------------------------


async def test_patch_changes_fields_and_completion_stamps_completed_at(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, description="old", target_minutes=60)
    headers = auth_headers(codec, user)

    response = await client.patch(
        f"/goals/{goal.id}",
        headers=headers,
        json={"title": "Renamed", "description": None, "status": "completed"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Renamed"
    assert body["description"] is None
    assert body["status"] == "completed"
    assert body["completed_at"] is not None
    assert body["progress"]["on_track"] is True
    assert (await stored_goal(db_session, goal.id)).completed_at is not None

    response = await client.patch(f"/goals/{goal.id}", headers=headers, json={"status": "active"})
    assert response.json()["status"] == "active"
    assert response.json()["completed_at"] is None
    assert response.json()["target_minutes"] == 60  # left out: unchanged
    assert (await stored_goal(db_session, goal.id)).completed_at is None


async def test_completing_an_already_completed_goal_keeps_its_completion_time(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    done_at = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    goal = await create_goal(db_session, user.id, status="completed", completed_at=done_at)
    response = await client.patch(
        f"/goals/{goal.id}", headers=auth_headers(codec, user), json={"status": "completed"}
    )
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["completed_at"]) == done_at


async def test_patch_switching_target_clears_the_other(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_minutes=60)
    response = await client.patch(
        f"/goals/{goal.id}", headers=auth_headers(codec, user), json={"target_modules": 5}
    )
    assert response.status_code == 200, response.text
    assert response.json()["target_modules"] == 5
    assert response.json()["target_minutes"] is None
    stored = await stored_goal(db_session, goal.id)
    assert (stored.target_minutes, stored.target_modules) == (None, 5)


async def test_patch_sets_and_clears_the_course(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    course = await create_course(db_session, user.id)
    foreign = await create_course(db_session, other.id)
    goal = await create_goal(db_session, user.id)
    headers = auth_headers(codec, user)
    path = f"/goals/{goal.id}"

    response = await client.patch(path, headers=headers, json={"course_id": str(course.id)})
    assert response.json()["course_id"] == str(course.id)
    response = await client.patch(path, headers=headers, json={"course_id": str(foreign.id)})
    assert_error(response, 404, "not_found")
    assert (await stored_goal(db_session, goal.id)).course_id == course.id
    response = await client.patch(path, headers=headers, json={"course_id": None})
    assert response.json()["course_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"status": "finished"},
        {"status": None},
        {"title": None},
        {"target_minutes": 10, "target_modules": 2},
        {"target_minutes": -5},
        {"owner": "me"},
    ],
)
async def test_invalid_patches_are_422_and_change_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, body: dict[str, Any]
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, title="Keep", target_minutes=60)
    response = await client.patch(f"/goals/{goal.id}", headers=auth_headers(codec, user), json=body)
    assert_error(response, 422, "validation_error")
    stored = await stored_goal(db_session, goal.id)
    assert (stored.title, stored.status, stored.target_minutes) == ("Keep", "active", 60)


async def test_delete_removes_the_goal_and_its_events(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    await create_event(db_session, goal)
    headers = auth_headers(codec, user)
    response = await client.delete(f"/goals/{goal.id}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await count_goals(db_session, id=goal.id) == 0
    assert await count_events(db_session, goal.id) == 0
    assert_error(await client.get(f"/goals/{goal.id}", headers=headers), 404, "not_found")


async def test_another_users_goal_is_404_everywhere_and_unchanged(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, intruder = await create_user(db_session), await create_user(db_session)
    goal = await create_goal(db_session, owner.id, title="Mine", target_minutes=60)
    await create_event(db_session, goal, minutes=15)
    headers = auth_headers(codec, intruder)
    path = f"/goals/{goal.id}"

    assert_error(await client.get(path, headers=headers), 404, "not_found")
    patched = await client.patch(path, headers=headers, json={"title": "Pwned"})
    assert_error(patched, 404, "not_found")
    posted = await client.post(f"{path}/progress", headers=headers, json={"minutes": 500})
    assert_error(posted, 404, "not_found")
    assert_error(await client.get(f"{path}/progress", headers=headers), 404, "not_found")
    assert_error(await client.delete(path, headers=headers), 404, "not_found")
    listed = await client.get("/goals", headers=headers)
    assert listed.json()["items"] == []

    stored = await stored_goal(db_session, goal.id)
    assert (stored.title, stored.status) == ("Mine", "active")
    assert await count_events(db_session, goal.id) == 1


async def test_an_unknown_goal_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get(f"/goals/{uuid.uuid4()}", headers=auth_headers(codec, user))
    assert_error(response, 404, "not_found")


# --- progress -----------------------------------------------------------------------------------


async def test_recording_progress_returns_the_event_and_the_updated_goal(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_minutes=120)
    await create_event(db_session, goal, minutes=30)
    before = datetime.now(UTC)
    response = await client.post(
        f"/goals/{goal.id}/progress",
        headers=auth_headers(codec, user),
        json={"minutes": 45, "note": "Integrals"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"event", "goal"}
    assert body["event"]["goal_id"] == str(goal.id)
    assert body["event"]["minutes"] == 45
    assert body["event"]["modules_completed"] == 0
    assert body["event"]["note"] == "Integrals"
    # occurred_at defaults to now.
    occurred_at = datetime.fromisoformat(body["event"]["occurred_at"])
    assert before <= occurred_at <= datetime.now(UTC)
    assert body["goal"]["progress"]["minutes_done"] == 75
    assert body["goal"]["progress"]["percent"] == 62.5
    assert body["goal"]["progress"]["streak_days"] == 1
    assert await count_events(db_session, goal.id) == 2


async def test_progress_beyond_the_target_is_clamped_to_100_percent(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_modules=3)
    response = await client.post(
        f"/goals/{goal.id}/progress",
        headers=auth_headers(codec, user),
        json={"modules_completed": 5, "minutes": 10},
    )
    assert response.status_code == 201, response.text
    progress = response.json()["goal"]["progress"]
    assert progress["percent"] == 100.0
    assert progress["modules_done"] == 5
    # Reaching the target does not complete the goal; the user decides that.
    assert response.json()["goal"]["status"] == "active"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"minutes": 0, "modules_completed": 0},
        {"minutes": -10},
        {"minutes": 30, "modules_completed": -1},
        {"minutes": 30, "occurred_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        {"minutes": 30, "occurred_at": "2025-01-01T10:00:00"},  # no offset: ambiguous
        {"minutes": 30, "occurred_at": "1999-12-31T10:00:00Z"},
        {"minutes": 24 * 60 + 1},
        {"minutes": 30, "extra": True},
        {"minutes": 30, "note": "nul\u0000byte"},
    ],
)
async def test_invalid_progress_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, body: dict[str, Any]
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    response = await client.post(
        f"/goals/{goal.id}/progress", headers=auth_headers(codec, user), json=body
    )
    assert_error(response, 422, "validation_error")
    assert await count_events(db_session, goal.id) == 0


@pytest.mark.parametrize("status", ["completed", "abandoned", "paused"])
async def test_progress_on_a_goal_that_is_not_active_is_409(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, status: str
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, status=status)
    response = await client.post(
        f"/goals/{goal.id}/progress", headers=auth_headers(codec, user), json={"minutes": 30}
    )
    error = assert_error(response, 409, "goal_not_active")
    assert error["details"] == {"status": status}
    assert await count_events(db_session, goal.id) == 0


async def test_an_idempotency_key_records_a_retried_post_once(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_minutes=100)
    headers = {**auth_headers(codec, user), "Idempotency-Key": "retry-1"}
    path = f"/goals/{goal.id}/progress"

    first = await client.post(path, headers=headers, json={"minutes": 25})
    assert first.status_code == 201, first.text
    # occurred_at was defaulted the first time; a retry without it is still the same request.
    second = await client.post(path, headers=headers, json={"minutes": 25})
    assert second.status_code == 200, second.text
    assert second.json()["event"] == first.json()["event"]
    assert second.json()["goal"]["progress"]["minutes_done"] == 25
    assert await count_events(db_session, goal.id) == 1

    # The same key on another goal is unrelated.
    other = await create_goal(db_session, user.id)
    third = await client.post(f"/goals/{other.id}/progress", headers=headers, json={"minutes": 25})
    assert third.status_code == 201
    assert third.json()["event"]["id"] != first.json()["event"]["id"]


async def test_an_idempotency_replay_still_answers_after_the_goal_is_completed(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    headers = {**auth_headers(codec, user), "Idempotency-Key": "k"}
    path = f"/goals/{goal.id}/progress"
    first = await client.post(path, headers=headers, json={"modules_completed": 1})
    await client.patch(f"/goals/{goal.id}", headers=headers, json={"status": "completed"})
    second = await client.post(path, headers=headers, json={"modules_completed": 1})
    assert second.status_code == 200, second.text
    assert second.json()["event"]["id"] == first.json()["event"]["id"]


async def test_reusing_an_idempotency_key_with_another_body_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    headers = {**auth_headers(codec, user), "Idempotency-Key": "same-key"}
    path = f"/goals/{goal.id}/progress"
    first = await client.post(path, headers=headers, json={"minutes": 25})
    assert first.status_code == 201
    second = await client.post(path, headers=headers, json={"minutes": 26})
    assert_error(second, 422, "idempotency_key_reused")
    events = list(
        await db_session.scalars(
            select(GoalProgressEvent).where(GoalProgressEvent.goal_id == goal.id)
        )
    )
    assert [(e.minutes, e.idempotency_key) for e in events] == [(25, "same-key")]


async def test_an_idempotency_key_longer_than_255_is_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    headers = {**auth_headers(codec, user), "Idempotency-Key": "k" * 256}
    response = await client.post(f"/goals/{goal.id}/progress", headers=headers, json={"minutes": 5})
    assert_error(response, 422, "validation_error")
    assert await count_events(db_session, goal.id) == 0


async def test_a_concurrent_retry_that_loses_the_insert_race_gets_the_winners_event(
    db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests miss the lookup; the unique constraint lets only the first insert in."""
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    service = GoalService(db_session)
    winner = await service.record_progress(user, goal.id, ProgressEventCreate(minutes=10), "race")
    await db_session.commit()

    found_by_lookup = service.goals.get_event_by_key
    misses = 0

    async def lookup_missing_the_first_time(
        goal_id: uuid.UUID, key: str
    ) -> GoalProgressEvent | None:
        nonlocal misses
        if misses == 0:
            misses += 1
            return None
        return await found_by_lookup(goal_id, key)

    monkeypatch.setattr(service.goals, "get_event_by_key", lookup_missing_the_first_time)
    loser = await service.record_progress(user, goal.id, ProgressEventCreate(minutes=10), "race")
    assert loser.created is False
    assert loser.event.id == winner.event.id
    assert await count_events(db_session, goal.id) == 1

    misses = 0
    with pytest.raises(IdempotencyKeyReusedError):
        await service.record_progress(user, goal.id, ProgressEventCreate(minutes=11), "race")
    assert await count_events(db_session, goal.id) == 1


async def test_progress_events_are_listed_newest_first_in_pages(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    now = datetime.now(UTC)
    events = [
        await create_event(db_session, goal, occurred_at=now - timedelta(days=n)) for n in range(3)
    ]
    headers = auth_headers(codec, user)
    first = await client.get(f"/goals/{goal.id}/progress", headers=headers, params={"limit": 2})
    assert first.status_code == 200, first.text
    assert [e["id"] for e in first.json()["items"]] == [str(events[0].id), str(events[1].id)]
    second = await client.get(
        f"/goals/{goal.id}/progress",
        headers=headers,
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
    )
    assert [e["id"] for e in second.json()["items"]] == [str(events[2].id)]
    assert second.json()["next_cursor"] is None


# --- derived progress against the real database ------------------------------------------------


def _at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


async def test_streak_counts_days_in_the_users_zone(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    zone = ZoneInfo("Asia/Tokyo")
    user = await create_user(db_session, timezone="Asia/Tokyo")
    goal = await create_goal(db_session, user.id)
    today = datetime.now(zone).date()
    # Yesterday 23:30 and the day before at 00:10, Tokyo time: two days in a row there, but the
    # second is three days ago in UTC, so a UTC count would break the streak.
    for day, clock in ((1, time(23, 30)), (2, time(0, 10)), (4, time(12))):
        occurred_at = _at_local(today - timedelta(days=day), clock, zone)
        await create_event(db_session, goal, occurred_at=occurred_at)
    response = await client.get(f"/goals/{goal.id}", headers=auth_headers(codec, user))
    assert response.json()["progress"]["streak_days"] == 2


async def test_streak_and_local_days_with_a_fixed_clock(db_session: AsyncSession) -> None:
    """The database's local dates feed the streak: checked at a fixed instant in Los Angeles."""
    zone = ZoneInfo("America/Los_Angeles")
    user = await create_user(db_session, timezone="America/Los_Angeles")
    goal = await create_goal(db_session, user.id)
    now = datetime(2025, 7, 10, 18, 0, tzinfo=UTC)  # 11:00 on July 10 in Los Angeles
    # 23:30 on July 9 local is July 10 in UTC; 00:05 on July 8 local is July 8 in UTC.
    await create_event(
        db_session, goal, occurred_at=_at_local(date(2025, 7, 9), time(23, 30), zone)
    )
    await create_event(db_session, goal, occurred_at=_at_local(date(2025, 7, 8), time(0, 5), zone))
    await create_event(db_session, goal, occurred_at=_at_local(date(2025, 7, 6), time(9), zone))

    view = await GoalService(db_session, now=lambda: now).get(user, goal.id)
    assert view.progress.streak_days == 2  # July 9 and 8, ending yesterday

    later = now + timedelta(days=1)  # July 11: July 10 had nothing, so the streak is gone
    view = await GoalService(db_session, now=lambda: later).get(user, goal.id)
    assert view.progress.streak_days == 0


@pytest.mark.parametrize(("minutes", "on_track"), [(100, True), (99, False)])
async def test_on_track_against_the_linear_expectation(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    minutes: int,
    on_track: bool,
) -> None:
    user = await create_user(db_session)
    now = datetime.now(UTC)
    # Created ten days ago, due in ten: half of 200 minutes is expected by now.
    goal = await create_goal(
        db_session,
        user.id,
        target_minutes=200,
        target_date=(now + timedelta(days=10)).date(),
        created_at=now - timedelta(days=10),
    )
    await create_event(db_session, goal, minutes=minutes, occurred_at=now - timedelta(days=1))
    response = await client.get(f"/goals/{goal.id}", headers=auth_headers(codec, user))
    assert response.json()["progress"]["on_track"] is on_track


async def test_past_the_deadline_and_not_done_is_behind(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    now = datetime.now(UTC)
    goal = await create_goal(
        db_session,
        user.id,
        target_minutes=60,
        target_date=(now - timedelta(days=2)).date(),
        created_at=now - timedelta(days=20),
    )
    await create_event(db_session, goal, minutes=59, occurred_at=now - timedelta(days=3))
    headers = auth_headers(codec, user)
    response = await client.get(f"/goals/{goal.id}", headers=headers)
    assert response.json()["progress"]["on_track"] is False
    await create_event(db_session, goal, minutes=1, occurred_at=now - timedelta(days=3))
    response = await client.get(f"/goals/{goal.id}", headers=headers)
    assert response.json()["progress"]["on_track"] is True
