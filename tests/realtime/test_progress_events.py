"""`progress.updated` comes from the goals service, whichever entry point records progress,
and only once the recording commits."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Event, EventBus
from core.security import TokenCodec
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted, tool_call


async def test_progress_recorded_by_the_chat_tool_is_announced_once_the_turn_commits(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_minutes=60)
    bus: EventBus = app.state.event_bus
    stream = bus.subscribe(user.id, after=await bus.last_event_id(user.id))
    record = tool_call(
        "record_progress", goal_id=str(goal.id), minutes=30, user_request="log 30 minutes"
    )
    headers = auth_headers(codec, user)
    ask = {"message": "Please log 30 minutes"}

    # A turn that records and then fails is rolled back: nothing is announced.
    app.state.chat_models.with_model("chat", scripted(record))
    failed = await client.post("/ai/chat", headers=headers, json=ask)
    assert failed.status_code >= 500, failed.text

    app.state.chat_models.with_model("chat", scripted(record, "Logged."))
    reply = await client.post("/ai/chat", headers=headers, json=ask)
    assert reply.status_code == 200, reply.text
    assert [c["type"] for c in reply.json()["changes"]] == ["goal_progress"]

    delivered = await asyncio.wait_for(anext(stream), 10)
    assert delivered.event.type == "progress.updated"
    assert delivered.event.topic == "progress"
    assert delivered.event.data["goal_id"] == str(goal.id)
    assert delivered.event.data["progress"]["percent"] == 50.0
    assert delivered.event.data["event"]["id"] == reply.json()["changes"][0]["id"]

    # And it was the only one: the next is a marker published now.
    await bus.publish([Event(user.id, "progress", "marker", {})])
    assert (await asyncio.wait_for(anext(stream), 10)).event.type == "marker"


async def test_an_idempotent_replay_announces_nothing_new(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id, target_minutes=100)
    bus: EventBus = app.state.event_bus
    stream = bus.subscribe(user.id, after=await bus.last_event_id(user.id))
    headers = {**auth_headers(codec, user), "Idempotency-Key": str(uuid.uuid4())}
    for _ in range(2):
        response = await client.post(
            f"/goals/{goal.id}/progress", headers=headers, json={"minutes": 10}
        )
        assert response.status_code in (200, 201), response.text
    first = await asyncio.wait_for(anext(stream), 10)
    assert first.event.data["progress"]["minutes_done"] == 10
    await bus.publish([Event(user.id, "progress", "marker", {})])
    assert (await asyncio.wait_for(anext(stream), 10)).event.type == "marker"
