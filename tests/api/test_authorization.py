"""User B, holding user A's ids, gets 404 on every route with an id, and changes nothing (in
any table: `snapshot` reads them all from information_schema). Ids in bodies and queries are
covered by `test_authorization_matrix.py`, derived from the spec.

The table is checked against the app's own routes: a new route with a path parameter and no
entry here fails `test_every_route_with_an_id_is_covered`.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.conversations.models import Conversation
from domain.evals.models import EvalRun
from domain.notifications.models import Notification
from domain.plans.models import PlanSession, StudyPlan
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.content import create_document, create_note, create_resource
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block, create_reminder
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.tables import snapshot

# A Monday 09:00 UTC, weekly: the occurrence routes address its first occurrence.
SERIES_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


# The plan in the path is checked first: any proposal id answers 404 on another's plan.
NOBODYS_PROPOSAL = "0b9c7a53-4d7e-4f55-9a0e-3f1f0c3f6a21"

CASES = [
    Case("GET", "/users/{user_id}"),
    Case("PATCH", "/users/{user_id}", {"name": "Mallory"}),
    Case("GET", "/courses/{course_id}"),
    Case("PATCH", "/courses/{course_id}", {"title": "Taken over"}),
    Case("POST", "/courses/{course_id}/modules", {"title": "Injected"}),
    Case("PATCH", "/courses/{course_id}/modules/{module_id}", {"title": "Renamed"}),
    Case("PUT", "/courses/{course_id}/modules/order", {"module_ids": ["{module_id}"]}),
    Case("POST", "/courses/{course_id}/enroll"),
    Case("POST", "/courses/{course_id}/modules/{module_id}/complete"),
    Case("GET", "/notes/{note_id}"),
    Case("PATCH", "/notes/{note_id}", {"title": "Mine now"}),
    Case("DELETE", "/notes/{note_id}"),
    Case("GET", "/documents/{document_id}"),
    Case("GET", "/documents/{document_id}/content"),
    Case("DELETE", "/documents/{document_id}"),
    Case("GET", "/resources/{resource_id}"),
    Case("PATCH", "/resources/{resource_id}", {"title": "Mine now"}),
    Case("DELETE", "/resources/{resource_id}"),
    Case("GET", "/goals/{goal_id}"),
    Case("PATCH", "/goals/{goal_id}", {"title": "Mine now"}),
    Case("DELETE", "/goals/{goal_id}"),
    Case("GET", "/goals/{goal_id}/progress"),
    Case("POST", "/goals/{goal_id}/progress", {"minutes": 30}),
    Case("GET", "/schedule/blocks/{block_id}"),
    Case("PATCH", "/schedule/{block_id}", {"title": "Mine now"}),
    Case("DELETE", "/schedule/{block_id}"),
    Case("PATCH", "/schedule/{block_id}/occurrences/{original_start}", {"title": "Moved"}),
    Case("DELETE", "/schedule/{block_id}/occurrences/{original_start}"),
    Case("GET", "/reminders/{reminder_id}"),
    Case("PATCH", "/reminders/{reminder_id}", {"message": "Mine now"}),
    Case("DELETE", "/reminders/{reminder_id}"),
    Case("POST", "/notifications/{notification_id}/read"),
    Case("GET", "/ai/conversations/{conversation_id}"),
    Case("DELETE", "/ai/conversations/{conversation_id}"),
    Case("GET", "/plans/{plan_id}"),
    Case("POST", "/plans/{plan_id}/accept"),
    Case("POST", "/plans/{plan_id}/cancel"),
    Case("POST", "/plans/{plan_id}/replan/accept", {"proposal_id": NOBODYS_PROPOSAL}),
    Case("PATCH", "/plans/{plan_id}", {"auto_replan": False}),
    Case("DELETE", "/plans/{plan_id}"),
    # Eval runs belong to no student: anyone but an admin gets 404.
    Case("GET", "/evals/runs/{run_id}"),
]


async def _world_of(session: AsyncSession, owner: User) -> dict[str, str]:
    owner_id = owner.id
    course = await create_course(session, owner_id, modules=1)
    module_id = await session.scalar(
        text("SELECT id FROM course_modules WHERE course_id = :c"), {"c": course.id}
    )
    note = await create_note(session, owner_id)
    resource = await create_resource(session, owner_id)
    goal = await create_goal(session, owner_id)
    block = await create_block(session, owner, SERIES_START, rrule="FREQ=WEEKLY;COUNT=4")
    reminder = await create_reminder(session, owner, SERIES_START, goal_id=goal.id)
    conversation = Conversation(user_id=owner_id, title="Mine", turn_count=0)
    plan = StudyPlan(
        user_id=owner_id,
        goal_id=goal.id,
        title="Mine",
        timezone="UTC",
        start_date=SERIES_START.date(),
        end_date=SERIES_START.date(),
        fits=True,
        proof={},
        model="test",
        prompt_version="plan/draft@v1",
        sessions=[PlanSession(position=0, title="Mine", objective="Mine", minutes=30)],
    )
    eval_run = EvalRun(
        suite="chat",
        mode="scripted",
        status="finished",
        model="scripted",
        prompts={},
        repeats=1,
        cases=0,
        passed=0,
        gate_failures=0,
    )
    document = await create_document(session, owner_id)
    notification = Notification(
        user_id=owner_id, kind="reminder", title="Reminder", body="Mine", data={}
    )
    session.add_all([conversation, plan, eval_run, notification])
    await session.commit()
    return {
        "goal_id": str(goal.id),
        "block_id": str(block.id),
        "original_start": SERIES_START.isoformat(),
        "reminder_id": str(reminder.id),
        "user_id": str(owner_id),
        "course_id": str(course.id),
        "module_id": str(module_id),
        "note_id": str(note.id),
        "resource_id": str(resource.id),
        "document_id": str(document.id),
        "conversation_id": str(conversation.id),
        "plan_id": str(plan.id),
        "run_id": str(eval_run.id),
        "notification_id": str(notification.id),
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method} {case.path}")
async def test_another_users_id_is_404_and_changes_nothing(
    case: Case, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    ids = await _world_of(db_session, alice)
    before = await snapshot(db_session)

    response = await client.request(
        case.method,
        _fill(case.path, ids),
        json=_fill(case.body, ids),
        params=_fill(case.params, ids),
        headers=auth_headers(codec, bob),
    )
    assert_error(response, 404, "not_found")
    assert await snapshot(db_session) == before


def test_every_route_with_an_id_is_covered(app: FastAPI) -> None:
    spec = app.openapi()
    with_ids = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in spec["paths"].items()
        if "{" in path
        for method in operations
    }
    covered = {(case.method, case.path) for case in CASES}
    assert with_ids - covered == set()
