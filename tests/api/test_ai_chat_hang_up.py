"""A student who closes the chat stream mid-turn, over a real socket: uvicorn notices the
hang-up, the turn is cancelled, and what it cost is still recorded."""

import asyncio
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.conversations.models import Conversation
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.served import api_server
from tests.support.scripted_openai import (
    Answer,
    Hang,
    Reply,
    ScriptedOpenAI,
    ToolCall,
    ToolCalls,
)

# Only reached when the cancelled run is never recorded.
RECORD_WAIT_SECONDS = 20.0


async def _runs_until(session: AsyncSession, count: int) -> list[AgentRun]:
    async with asyncio.timeout(RECORD_WAIT_SECONDS):
        while True:
            session.expire_all()
            runs = list(await session.scalars(select(AgentRun).order_by(AgentRun.created_at)))
            if len(runs) >= count:
                return runs
            await asyncio.sleep(0.05)


async def test_hanging_up_mid_turn_cancels_the_run_charges_its_tokens_and_frees_the_conversation(
    settings: Settings, live_db: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    replies: list[Reply] = [
        Answer("Hello."),
        ToolCalls([ToolCall("list_goals", {})]),
        Hang(),
        Answer("Back."),
    ]
    async with ScriptedOpenAI(replies) as provider:
        served = settings.model_copy(
            update={
                "openai_base_url": provider.base_url,
                "openai_api_key": "test-key",
                "llm_model": "gpt-test",
            }
        )
        async with (
            api_server(served) as api,
            httpx.AsyncClient(base_url=api.base, timeout=30) as http,
        ):
            first = await http.post("/ai/chat", headers=headers, json={"message": "Hi"})
            assert first.status_code == 200, first.text
            conversation_id = first.json()["conversation_id"]

            async with http.stream(
                "POST",
                "/ai/chat",
                headers={**headers, "Accept": "text/event-stream"},
                json={"message": "How am I doing?", "conversation_id": conversation_id},
            ) as stream:
                async for line in stream.aiter_lines():
                    if line == "event: tool_result":
                        break  # the model is now asked again, and never answers
            # Leaving the block closed the connection with the turn still running.

            first_run, cancelled = await _runs_until(live_db, 2)
            assert (cancelled.outcome, cancelled.error_code) == ("error", "cancelled")
            # Charged exactly what the answered step reported; the unanswered one cost nothing.
            tool_step = provider.usages[1]
            assert (cancelled.input_tokens, cancelled.output_tokens) == (
                tool_step["prompt_tokens"],
                tool_step["completion_tokens"],
            )

            conversation = await live_db.get(Conversation, uuid.UUID(conversation_id))
            assert conversation is not None
            await live_db.refresh(conversation)
            assert (conversation.turn_count, conversation.running_since) == (1, None)
            again = await http.post(
                "/ai/chat",
                headers=headers,
                json={"message": "Still there?", "conversation_id": conversation_id},
            )
            assert again.status_code == 200, again.text
            assert again.json()["message"] == "Back."
    assert first_run.error_code is None
