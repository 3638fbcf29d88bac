"""A conversation never becomes unusable: not through one huge earlier answer on a model with a
4,096-token window, not through a window set wrongly, not through a model too slow to finish.

The model is a real OpenAI-compatible server that, like llama.cpp, refuses any request longer
than its context with HTTP 400 `exceed_context_size_error`. It counts tokens more densely (three
characters each) than the API's own estimate (four), as real tokenizers often do.
"""

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app
from tests.fixtures.factories.users import auth_headers, create_user
from tests.support.scripted_openai import Answer, Fault, Json, Reply, ScriptedOpenAI

WINDOW = 4_096
CHARS_PER_REAL_TOKEN = 3
# Past the window on its own (about 5,500 tokens), in few long words: streamed word by word.
HUGE_ANSWER = "The-Krebs-cycle,-explained-at-great-length. " * 375


def prompt_tokens(request: Json) -> int:
    sent = json.dumps(request["messages"]) + json.dumps(request.get("tools") or [])
    return len(sent) // CHARS_PER_REAL_TOKEN


class SmallWindowModel:
    """Answers the first request with HUGE_ANSWER (as a rambling model without an output limit
    did), then briefly; refuses what does not fit its window."""

    def __init__(self) -> None:
        self.answered = 0
        self.refused = 0

    def __call__(self, request: Json) -> Reply:
        tokens = prompt_tokens(request)
        if tokens > WINDOW:
            self.refused += 1
            message = (
                f"request ({tokens} tokens) exceeds the available context size "
                f"({WINDOW} tokens), try increasing it"
            )
            error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
            return Fault(400, {"error": error})
        self.answered += 1
        return Answer(HUGE_ANSWER if self.answered == 1 else f"Short answer {self.answered}.")


@asynccontextmanager
async def chat_client(
    settings: Settings, db_session: AsyncSession, server: ScriptedOpenAI, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={
            "openai_base_url": server.base_url,
            "openai_api_key": "test-key",
            "llm_model": "small-test-model",
            "llm_max_retries": 0,
            **overrides,
        }
    )
    async with running_app(configured, db_session) as app, api_client(app) as client:
        yield client


async def three_turns(client: httpx.AsyncClient, headers: dict[str, str]) -> list[httpx.Response]:
    first = await client.post("/ai/chat", headers=headers, json={"message": "Explain Krebs."})
    assert first.status_code == 200, first.text
    conversation = {"conversation_id": first.json()["conversation_id"]}
    later = [
        await client.post("/ai/chat", headers=headers, json={"message": text, **conversation})
        for text in ("And then?", "Thanks, one more thing?")
    ]
    return [first, *later]


async def test_a_huge_earlier_answer_is_left_out_to_fit_a_4k_window(
    settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    model = SmallWindowModel()
    async with (
        ScriptedOpenAI(responder=model) as server,
        chat_client(settings, db_session, server, llm_context_window=WINDOW) as client,
    ):
        answers = await three_turns(client, auth_headers(codec, user))
        requests = server.requests

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].json()["message"].strip() == HUGE_ANSWER.strip()
    assert [a.json()["message"] for a in answers[1:]] == ["Short answer 2.", "Short answer 3."]
    # Budgeted from the window, every request fitted the first time.
    assert (model.refused, len(requests)) == (0, 3)
    assert all(prompt_tokens(request) <= WINDOW for request in requests)
    assert all(request["max_completion_tokens"] == 1_024 for request in requests)
    last_sent = json.dumps(requests[-1]["messages"])
    assert "Krebs-cycle" not in last_sent
    # The latest earlier turn that fits is kept.
    assert "Short answer 2." in last_sent


async def test_a_wrongly_configured_window_is_trimmed_to_the_minimum_and_retried_once(
    settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    model = SmallWindowModel()
    async with (
        ScriptedOpenAI(responder=model) as server,
        # The API believes the model reads 128k tokens.
        chat_client(settings, db_session, server, llm_context_window=128_000) as client,
    ):
        answers = await three_turns(client, auth_headers(codec, user))
        requests = server.requests

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    # Turns two and three were each refused once, then sent as system prompt + this turn.
    assert model.refused == 2
    assert len(requests) == 5
    for retried in (requests[2], requests[4]):
        system, turn = retried["messages"]
        assert system["role"] == "system"
        assert turn["role"] == "user"
    runs = (await db_session.scalars(select(AgentRun).order_by(AgentRun.created_at))).all()
    assert [run.outcome for run in runs] == ["ok", "ok", "ok"]


async def test_a_turn_past_its_deadline_is_503_and_the_conversation_goes_on(
    settings: Settings, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    release = threading.Event()
    async with (
        ScriptedOpenAI(responder=lambda _: Answer("Finally."), hold=release) as server,
        chat_client(settings, db_session, server, chat_turn_deadline_seconds=0.5) as client,
    ):
        late = await client.post("/ai/chat", headers=headers, json={"message": "Hello?"})
        release.set()
        again = await client.post("/ai/chat", headers=headers, json={"message": "Hello again?"})

    body = assert_error(late, 503, "llm_unavailable")
    assert body["details"] == {"turn_deadline_seconds": 0.5}
    assert again.status_code == 200, again.text
    assert again.json()["message"] == "Finally."
    runs = (await db_session.scalars(select(AgentRun).order_by(AgentRun.created_at))).all()
    assert [(run.outcome, run.error_code) for run in runs] == [
        ("error", "llm_unavailable"),
        ("ok", None),
    ]
