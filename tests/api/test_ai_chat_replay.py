"""A chat turn through the real ChatOpenAI client, replayed from recorded wire traffic.

The cassette holds two streamed chat completions: one calling two tools at once, one answering
with a citation. Recording (`--record-mode=once|rewrite`) captures a real provider when
OPENAI_BASE_URL / OPENAI_API_KEY are set, else the scripted OpenAI-compatible server below.
"""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from vcr.cassette import Cassette

from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from tests.fixtures.factories.content import create_note
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import cassette_provider, recorded_usage
from tests.support.scripted_openai import Answer, Reply, ToolCall, ToolCalls

# Fixed, because the recorded answer cites it.
NOTE_ID = uuid.UUID("5a8a2f7e-3c1d-4f6b-9e2a-7b4c1d0e9f31")
SCRIPT: list[Reply] = [
    ToolCalls(
        [
            ToolCall("search_notes_and_resources", {"query": "krebs cycle"}),
            ToolCall("list_goals", {}),
        ]
    ),
    Answer(
        f"The Krebs cycle starts when acetyl-CoA joins oxaloacetate to form citrate "
        f"[note:{NOTE_ID}]. Your biology goal is on track."
    ),
]


@pytest.fixture
async def provider(record_mode: str) -> AsyncIterator[dict[str, str]]:
    async with cassette_provider(record_mode, SCRIPT) as settings:
        yield settings


def _events(stream: str) -> list[tuple[str, Any]]:
    events = []
    for block in stream.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.mark.vcr
async def test_a_streamed_turn_calls_two_tools_and_cites_the_note(
    provider_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, vcr: Cassette
) -> None:
    user = await create_user(db_session)
    await create_note(
        db_session,
        user.id,
        id=NOTE_ID,
        title="Krebs cycle",
        body="Acetyl-CoA + oxaloacetate -> citrate. Then isocitrate, alpha-ketoglutarate.",
    )
    await create_goal(db_session, user.id, title="Pass biology")

    response = await provider_client.post(
        "/ai/chat",
        headers={**auth_headers(codec, user), "Accept": "text/event-stream"},
        json={"message": "How does the Krebs cycle start, and how is my goal going?"},
    )

    assert response.status_code == 200, response.text
    events = _events(response.text)
    calls = [data["name"] for kind, data in events if kind == "tool_call"]
    assert calls == ["search_notes_and_resources", "list_goals"]
    assert all(data["ok"] for kind, data in events if kind == "tool_result")
    tokens = [data["text"] for kind, data in events if kind == "token"]
    assert len(tokens) > 1  # streamed, not one block
    kind, reply = events[-1]
    assert kind == "reply"
    assert "".join(tokens) == reply["message"]
    assert reply["citations"] == [
        {"type": "note", "id": str(NOTE_ID), "title": "Krebs cycle", "page": None}
    ]
    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.graph, run.outcome, run.model) == ("chat", "ok", "gpt-4o-mini")
    # Exactly what the recorded responses reported: daily budgets are charged from these.
    assert (run.input_tokens, run.output_tokens) == recorded_usage(vcr)
