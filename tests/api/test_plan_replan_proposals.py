"""A plan with `auto_replan` off: a re-plan is stored as a proposal; accepting it re-checks the
calendar (409, nothing written, when a slot is taken), and a proposal superseded by a newer one
or by progress on the goal no longer applies."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.plans.models import PlanSession, StudyPlan
from domain.plans.service import PlanService
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.tables import snapshot

EVERY_DAY = [{"weekday": day, "start": "00:00", "end": "23:59"} for day in range(7)]
PROOF = {
    "minutes_needed": 45,
    "minutes_placed": 45,
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


async def _followed_plan(
    session: AsyncSession, client: httpx.AsyncClient, user: User, headers: dict[str, str]
) -> tuple[Any, Any]:
    """An accepted plan with `auto_replan` off whose one session is two days ahead."""
    goal = await create_goal(session, user.id, title="Chemistry", target_minutes=600)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    plan = StudyPlan(
        user_id=user.id,
        goal_id=goal.id,
        title="Chemistry",
        timezone="UTC",
        start_date=datetime.now(UTC).date(),
        end_date=start.date() + timedelta(days=2),
        fits=True,
        proof=PROOF,
        model="test",
        prompt_version="plan/draft@v2",
        sessions=[
            PlanSession(
                position=0,
                title="Acids",
                objective="Name acids.",
                minutes=45,
                slots=[
                    {
                        "part": 1,
                        "starts_at": start.isoformat(),
                        "ends_at": (start + timedelta(minutes=45)).isoformat(),
                        "schedule_block_id": None,
                    }
                ],
            )
        ],
    )
    session.add(plan)
    await session.flush()
    accepted = await client.post(
        f"/plans/{plan.id}/accept", headers=headers, json={"auto_replan": False}
    )
    assert accepted.status_code == 200, accepted.text
    return plan.id, goal.id


async def _propose(
    session: AsyncSession, client: httpx.AsyncClient, plan_id: Any, headers: Any
) -> Any:
    result = await PlanService(session).replan(plan_id, [])
    assert (result.replanned, result.proposed) == (False, True)
    proposal = (await client.get(f"/plans/{plan_id}", headers=headers)).json()["replan_proposal"]
    assert proposal is not None
    return proposal


async def test_a_slot_taken_since_the_proposal_is_a_409_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    headers = auth_headers(codec, user)
    plan_id, _ = await _followed_plan(db_session, client, user, headers)
    proposal = await _propose(db_session, client, plan_id, headers)
    [slot] = proposal["sessions"][0]["slots"]
    await create_block(db_session, user, datetime.fromisoformat(slot["start"]), title="Dentist")
    before = await snapshot(db_session)
    response = await client.post(
        f"/plans/{plan_id}/replan/accept", headers=headers, json={"proposal_id": proposal["id"]}
    )
    body = assert_error(response, 409, "plan_conflicts")
    assert [clash["title"] for clash in body["details"]["slots"]] == ["Acids"]
    assert await snapshot(db_session) == before


async def test_a_proposal_superseded_by_a_newer_one_or_by_progress_does_not_apply(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    headers = auth_headers(codec, user)
    plan_id, goal_id = await _followed_plan(db_session, client, user, headers)
    older = await _propose(db_session, client, plan_id, headers)
    newer = await _propose(db_session, client, plan_id, headers)
    assert newer["id"] != older["id"]
    stale = await client.post(
        f"/plans/{plan_id}/replan/accept", headers=headers, json={"proposal_id": older["id"]}
    )
    assert assert_error(stale, 409, "replan_proposal_stale")["details"] == {
        "reason": "it was superseded"
    }

    logged = await client.post(f"/goals/{goal_id}/progress", headers=headers, json={"minutes": 20})
    assert logged.status_code == 201, logged.text
    before = await snapshot(db_session)
    after_progress = await client.post(
        f"/plans/{plan_id}/replan/accept", headers=headers, json={"proposal_id": newer["id"]}
    )
    assert assert_error(after_progress, 409, "replan_proposal_stale")["details"] == {
        "reason": "progress was recorded on the goal since"
    }
    assert await snapshot(db_session) == before


async def test_another_users_proposal_is_a_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    bob = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    alices = auth_headers(codec, alice)
    plan_id, _ = await _followed_plan(db_session, client, alice, alices)
    proposal = await _propose(db_session, client, plan_id, alices)
    response = await client.post(
        f"/plans/{plan_id}/replan/accept",
        headers=auth_headers(codec, bob),
        json={"proposal_id": proposal["id"]},
    )
    assert_error(response, 404, "not_found")
    shown = await client.get(f"/plans/{plan_id}", headers=auth_headers(codec, bob))
    assert_error(shown, 404, "not_found")


async def test_patching_auto_replan_back_on_applies_the_next_replan_at_once(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    headers = auth_headers(codec, user)
    plan_id, _ = await _followed_plan(db_session, client, user, headers)
    patched = await client.patch(f"/plans/{plan_id}", headers=headers, json={"auto_replan": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["auto_replan"] is True
    result = await PlanService(db_session).replan(plan_id, [])
    assert (result.replanned, result.proposed) == (True, False)
    plan = (await client.get(f"/plans/{plan_id}", headers=headers)).json()
    assert plan["replan_proposal"] is None
    [slot] = plan["sessions"][0]["slots"]
    assert slot["schedule_block_id"] is not None


async def test_a_cancelled_plan_drops_its_proposal(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, study_preferences={"available_hours": EVERY_DAY})
    headers = auth_headers(codec, user)
    plan_id, _ = await _followed_plan(db_session, client, user, headers)
    proposal = await _propose(db_session, client, plan_id, headers)
    cancelled = await client.post(f"/plans/{plan_id}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    shown = (await client.get(f"/plans/{plan_id}", headers=headers)).json()
    assert shown["replan_proposal"] is None
    response = await client.post(
        f"/plans/{plan_id}/replan/accept", headers=headers, json={"proposal_id": proposal["id"]}
    )
    assert assert_error(response, 409, "plan_not_active")["details"] == {"status": "cancelled"}
