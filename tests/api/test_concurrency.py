"""Requests that race, on the concurrency harness (`tests/fixtures/concurrency.py`): committed data
and the app's own connection pool, so two requests in flight meet on real row locks."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.auth.models import RefreshToken
from domain.conversations.models import Conversation
from domain.plans.models import PlanSession, StudyPlan
from domain.plans.scheduler import SchedulingRules, SessionRequest, WeeklyWindow, place_sessions
from domain.plans.schemas import PlanProof
from domain.reminders.models import Reminder
from domain.schedule.models import ScheduleBlock
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import DEFAULT_PASSWORD, auth_headers, create_user
from tests.fixtures.llm import ScriptedChatModel

# Generous: only reached when the code under test hangs, never on the path that passes.
HANG_SECONDS = 30


class GatedChatModel(ScriptedChatModel):
    """A scripted model that, once called, waits for the test to open its gate: the turn holds
    its claim on the conversation for exactly as long as the test needs."""

    entered: Any = None  # asyncio.Event, set when the model is called
    gate: Any = None  # asyncio.Event the test sets to let the answer out

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        await asyncio.wait_for(self.gate.wait(), HANG_SECONDS)
        result: ChatResult = self._generate(messages)
        return result

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.entered.set()
        await asyncio.wait_for(self.gate.wait(), HANG_SECONDS)
        for chunk in self._stream(messages):
            yield chunk


def gated(*replies: AIMessage | str) -> GatedChatModel:
    return GatedChatModel(
        messages=iter(replies), received=[], entered=asyncio.Event(), gate=asyncio.Event()
    )


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    query = select(func.count()).select_from(model).where(*where)
    return int(await session.scalar(query) or 0)


async def test_two_turns_at_once_on_one_conversation_one_runs_one_is_409(
    live_app: FastAPI, live_client: httpx.AsyncClient, live_db: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(live_db)
    conversation = Conversation(user_id=user.id, title="Cells", turn_count=0)
    live_db.add(conversation)
    await live_db.commit()
    model = gated("First answer.", "Never sent.")
    live_app.state.chat_models.with_model("chat", model)
    body = {"message": "What is a cell?", "conversation_id": str(conversation.id)}

    def send() -> "asyncio.Task[httpx.Response]":
        return asyncio.create_task(
            live_client.post("/ai/chat", headers=auth_headers(codec, user), json=body)
        )

    first, second = send(), send()
    # One turn claims the conversation and waits inside the model; the other must be refused
    # while that claim stands, not queued behind it.
    done, _ = await asyncio.wait(
        {first, second}, timeout=HANG_SECONDS, return_when="FIRST_COMPLETED"
    )
    assert len(done) == 1
    (refused,) = done
    assert_error(refused.result(), 409, "run_in_progress")
    # The other turn is still in flight: it reaches the model and waits there for the gate.
    await asyncio.wait_for(model.entered.wait(), HANG_SECONDS)
    model.gate.set()
    (winner,) = {first, second} - done
    answered = await asyncio.wait_for(winner, HANG_SECONDS)

    assert answered.status_code == 200, answered.text
    assert answered.json()["message"] == "First answer."
    assert len(model.received) == 1
    await live_db.refresh(conversation)
    assert conversation.turn_count == 1
    assert conversation.running_since is None


async def test_the_same_refresh_token_twice_at_once_never_makes_two_successors(
    live_client: httpx.AsyncClient, live_db: AsyncSession
) -> None:
    """What must hold whatever the reuse rule (a grace window may answer both): at most one
    successor per token, and once the family is revoked nothing from it works."""
    user = await create_user(live_db)
    login = await live_client.post(
        "/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200, login.text
    token = login.json()["refresh_token"]

    responses = await asyncio.gather(
        live_client.post("/auth/refresh", json={"refresh_token": token}),
        live_client.post("/auth/refresh", json={"refresh_token": token}),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses in ([200, 200], [200, 401]), [r.text for r in responses]
    successors = {r.json()["refresh_token"] for r in responses if r.status_code == 200}
    assert len(successors) == 1
    (successor,) = successors
    # One login row and one successor row: a race never mints a second child of the same token.
    assert await _count(live_db, RefreshToken, RefreshToken.user_id == user.id) == 2
    if statuses == [200, 401]:
        assert_error(next(r for r in responses if r.status_code == 401), 401, "token_reused")

    # After the family ends, neither the old token nor its successor works again.
    access = next(r for r in responses if r.status_code == 200).json()["access_token"]
    logout = await live_client.post(
        "/auth/logout",
        json={"refresh_token": successor},
        headers={"Authorization": f"Bearer {access}"},
    )
    # Where the race already ended the family, logging out with its token is refused too.
    assert logout.status_code in (204, 401), logout.text
    for presented in (token, successor):
        again = await live_client.post("/auth/refresh", json={"refresh_token": presented})
        assert again.status_code == 401, again.text
    assert await _count(live_db, RefreshToken, RefreshToken.revoked_at.is_(None)) == 0


async def test_a_plan_accepted_twice_at_once_is_written_once(
    live_client: httpx.AsyncClient, live_db: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(live_db, timezone="UTC")
    plan = await _draft_plan(live_db, user)
    headers = auth_headers(codec, user)

    responses = await asyncio.gather(
        *(live_client.post(f"/plans/{plan.id}/accept", headers=headers) for _ in range(2))
    )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert assert_error(refused, 409, "plan_not_draft")["details"] == {"status": "accepted"}
    accepted = next(r for r in responses if r.status_code == 200).json()
    assert accepted["status"] == "accepted"
    # Two slots, each written once, each with its reminder.
    assert await _count(live_db, ScheduleBlock, ScheduleBlock.user_id == user.id) == 2
    assert await _count(live_db, Reminder, Reminder.user_id == user.id) == 2


async def _draft_plan(session: AsyncSession, user: User) -> StudyPlan:
    """A draft of one 90-minute session the scheduler placed in two sittings, the day after
    tomorrow (UTC), with the proof the API would store."""
    day = datetime.now(UTC).date() + timedelta(days=2)
    rules = SchedulingRules(
        timezone="UTC",
        window_start=day,
        deadline=day,
        not_before=datetime.now(UTC),
        available_hours=(WeeklyWindow(day.weekday(), time(9), time(12)),),
    )
    placement = place_sessions([SessionRequest("Review", 90)], [], rules)
    assert placement.proof.fits
    goal = await create_goal(session, user.id)
    plan = StudyPlan(
        user_id=user.id,
        goal_id=goal.id,
        title="Exam prep",
        timezone="UTC",
        start_date=day,
        end_date=day,
        fits=True,
        proof=PlanProof.model_validate(asdict(placement.proof)).model_dump(mode="json"),
        model="test",
        prompt_version="plan/draft@v1",
        sessions=[
            PlanSession(
                position=0,
                title="Review",
                objective="Review",
                minutes=90,
                slots=[
                    {
                        "part": slot.part,
                        "starts_at": slot.start.isoformat(),
                        "ends_at": slot.end.isoformat(),
                        "schedule_block_id": None,
                    }
                    for slot in placement.slots
                ],
            )
        ],
    )
    session.add(plan)
    await session.commit()
    return plan
