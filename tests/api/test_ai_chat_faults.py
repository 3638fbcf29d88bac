"""Provider and tool faults in a chat turn, through the real ChatOpenAI client against a real
OpenAI-compatible server that misbehaves on cue."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.conversations.models import Conversation
from domain.courses.service import CourseService
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app
from tests.fixtures.factories.users import auth_headers, create_user
from tests.support.scripted_openai import (
    Answer,
    Break,
    Fault,
    Hang,
    Reply,
    ScriptedOpenAI,
    ToolCall,
    ToolCalls,
)

FAST_RETRY = {"retry-after-ms": "10"}
TIMEOUT_SECONDS = 0.5
# Far above three timeouts and the client's backoff; reached only if nothing times out.
HANG_GUARD_SECONDS = 20.0


@pytest.fixture
def replies() -> list[Reply]:
    return []


@pytest.fixture
def server(replies: list[Reply]) -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI(replies=replies) as running:
        yield running


@pytest.fixture
async def provider_client(
    settings: Settings, db_session: AsyncSession, server: ScriptedOpenAI
) -> AsyncIterator[httpx.AsyncClient]:
    provider = settings.model_copy(
        update={
            "openai_base_url": server.base_url,
            "openai_api_key": "test-key",
            "llm_model": "gpt-test",
            "llm_max_retries": 2,
            "llm_timeout_seconds": TIMEOUT_SECONDS,
        }
    )
    async with running_app(provider, db_session) as app, api_client(app) as client:
        yield client


@pytest.fixture
async def user(db_session: AsyncSession) -> User:
    return await create_user(db_session)


async def _chat(client: httpx.AsyncClient, codec: TokenCodec, user: User, **body: Any) -> Any:
    return await client.post(
        "/ai/chat", headers=auth_headers(codec, user), json={"message": "How am I doing?", **body}
    )


async def _runs(session: AsyncSession) -> list[tuple[str, str | None]]:
    runs = await session.scalars(select(AgentRun).order_by(AgentRun.created_at))
    return [(run.outcome, run.error_code) for run in runs]


async def _conversations(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)


@pytest.mark.parametrize("replies", [[Fault(429, headers=FAST_RETRY), Answer("All good.")]])
async def test_a_rate_limited_provider_is_retried(
    provider_client: httpx.AsyncClient,
    server: ScriptedOpenAI,
    codec: TokenCodec,
    user: User,
    db_session: AsyncSession,
) -> None:
    response = await _chat(provider_client, codec, user)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "All good."
    assert len(server.requests) == 2
    assert await _runs(db_session) == [("ok", None)]


@pytest.mark.parametrize("replies", [[Fault(500, headers=FAST_RETRY)] * 3])
async def test_a_failing_provider_is_503_and_nothing_is_kept(
    provider_client: httpx.AsyncClient,
    server: ScriptedOpenAI,
    codec: TokenCodec,
    user: User,
    db_session: AsyncSession,
) -> None:
    assert_error(await _chat(provider_client, codec, user), 503, "llm_unavailable")
    assert len(server.requests) == 3
    # The run is on record; the conversation whose first turn failed is not.
    assert await _runs(db_session) == [("error", "llm_unavailable")]
    assert await _conversations(db_session) == 0


@pytest.mark.parametrize("replies", [[Hang()] * 3])
async def test_a_provider_that_does_not_answer_times_out_as_503(
    provider_client: httpx.AsyncClient,
    server: ScriptedOpenAI,
    codec: TokenCodec,
    user: User,
    db_session: AsyncSession,
) -> None:
    started = time.monotonic()
    # The provider never answers: without the client's timeout this would wait forever.
    response = await asyncio.wait_for(_chat(provider_client, codec, user), HANG_GUARD_SECONDS)
    elapsed = time.monotonic() - started

    body = assert_error(response, 503, "llm_unavailable")
    # openai's APITimeoutError, as langchain-openai re-raises it (OpenAITimeoutError).
    assert body["details"] == {"provider_error": "OpenAITimeoutError"}
    # The first try and both retries, each cut off by the timeout.
    assert len(server.requests) == 3
    assert 3 * TIMEOUT_SECONDS <= elapsed < HANG_GUARD_SECONDS
    assert await _runs(db_session) == [("error", "llm_unavailable")]


@pytest.mark.parametrize(
    "replies",
    [[ToolCalls([ToolCall("get_course", '{"course_id": "7d2f')]), Answer("Which course?")]],
)
async def test_malformed_tool_arguments_are_refused_and_the_agent_recovers(
    provider_client: httpx.AsyncClient,
    server: ScriptedOpenAI,
    codec: TokenCodec,
    user: User,
) -> None:
    response = await _chat(provider_client, codec, user)
    assert response.status_code == 200, response.text
    assert response.json()["tool_calls"][0]["ok"] is False
    assert response.json()["message"] == "Which course?"
    tool_result = next(m for m in server.requests[-1]["messages"] if m["role"] == "tool")
    assert "course_id" in tool_result["content"]


@pytest.mark.parametrize(
    "replies",
    [
        [
            ToolCalls([ToolCall("get_course", {"course_id": "not-a-uuid"})]),
            ToolCalls(
                [ToolCall("get_course", {"course_id": "7d2f7f06-2f43-4a53-9f2c-4c5e1d1e0a11"})]
            ),
            Answer("I could not open that course."),
        ]
    ],
)
async def test_tool_failures_go_back_to_the_model(
    provider_client: httpx.AsyncClient,
    server: ScriptedOpenAI,
    codec: TokenCodec,
    user: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(CourseService, "detail", broken)
    response = await _chat(provider_client, codec, user)
    assert response.status_code == 200, response.text
    assert [call["ok"] for call in response.json()["tool_calls"]] == [False, False]
    tool_results = [
        message["content"]
        for message in server.requests[-1]["messages"]
        if message["role"] == "tool"
    ]
    assert "valid UUID" in tool_results[0]
    # An unexpected error reaches the model as a plain failure, without its details.
    assert "failed unexpectedly" in tool_results[1]
    assert "fire" not in tool_results[1]


@pytest.mark.parametrize("replies", [[Answer("Second turn.")]])
async def test_a_second_message_while_a_turn_runs_is_409(
    provider_client: httpx.AsyncClient,
    codec: TokenCodec,
    user: User,
    db_session: AsyncSession,
) -> None:
    busy = Conversation(user_id=user.id, title="t", turn_count=1, running_since=datetime.now(UTC))
    abandoned = Conversation(
        user_id=user.id,
        title="t",
        turn_count=1,
        running_since=datetime.now(UTC) - timedelta(hours=1),
    )
    db_session.add_all([busy, abandoned])
    await db_session.commit()

    assert_error(
        await _chat(provider_client, codec, user, conversation_id=str(busy.id)),
        409,
        "run_in_progress",
    )
    # A mark older than the lease belongs to a turn that died with its process.
    resumed = await _chat(provider_client, codec, user, conversation_id=str(abandoned.id))
    assert resumed.status_code == 200, resumed.text


@pytest.mark.parametrize("replies", [[Fault(500, headers=FAST_RETRY)] * 3])
async def test_a_failure_mid_stream_is_an_error_event_and_still_recorded(
    provider_client: httpx.AsyncClient, codec: TokenCodec, user: User, db_session: AsyncSession
) -> None:
    response = await provider_client.post(
        "/ai/chat",
        headers={**auth_headers(codec, user), "Accept": "text/event-stream"},
        json={"message": "How am I doing?"},
    )
    assert response.status_code == 200  # the stream had begun
    last = response.text.strip().split("\n\n")[-1]
    assert last.startswith("event: error")
    assert '"code": "llm_unavailable"' in last
    assert await _runs(db_session) == [("error", "llm_unavailable")]
    assert await _conversations(db_session) == 0


async def _turn_state(session: AsyncSession, conversation_id: str) -> tuple[int, object]:
    conversation = await session.get(Conversation, uuid.UUID(conversation_id))
    assert conversation is not None
    await session.refresh(conversation)
    return conversation.turn_count, conversation.running_since


@pytest.mark.parametrize(
    "replies",
    [[Answer("Hello."), Break("Start with chapter three today, then rest.", after_chunks=4)]],
)
async def test_a_stream_cut_after_some_tokens_ends_in_an_error_and_frees_the_conversation(
    provider_client: httpx.AsyncClient,
    codec: TokenCodec,
    user: User,
    db_session: AsyncSession,
    server: ScriptedOpenAI,
) -> None:
    first = await _chat(provider_client, codec, user)
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]

    response = await provider_client.post(
        "/ai/chat",
        headers={**auth_headers(codec, user), "Accept": "text/event-stream"},
        json={"message": "What next?", "conversation_id": conversation_id},
    )

    assert response.status_code == 200  # the stream had begun
    events = [block.split("\n", 1)[0] for block in response.text.strip().split("\n\n")]
    # The role chunk carries no text; the three word chunks after it reached the student.
    assert events.count("event: token") == 3
    assert events[-1] == "event: error"
    assert '"code": "llm_unavailable"' in response.text.strip().split("\n\n")[-1]
    assert await _runs(db_session) == [("ok", None), ("error", "llm_unavailable")]
    # Nothing of the broken turn is kept, and the conversation is free for the next one.
    assert await _turn_state(db_session, conversation_id) == (1, None)
    assert len(server.requests) == 2
