"""The real-model lane: every AI endpoint through HTTP against a real model on this CPU.

SmolLM2-135M-Instruct, served OpenAI-compatibly by llama.cpp, with a 4,096-token window. It is
weak and slow on purpose: this lane measures robustness on a real wire (tool schemas, streaming,
strict JSON schemas, context limits, usage reporting), not the quality of answers. What must
hold whatever it says: every status is one the API documents, and no 5xx but the documented AI
ones; every plan's proof holds; every chat turn ends within its deadline; every successful run
records the token counts the server reported.
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.local_llm import CONTEXT_TOKENS, MODEL_NAME, LocalLLM
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from tests.fixtures.client import api_client, running_app
from tests.fixtures.factories.content import create_note
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user

pytestmark = pytest.mark.real_model

# Generous for two idle cores (a turn takes seconds there); on a busy machine a turn may miss
# it, which the contract allows (503).
TURN_DEADLINE_SECONDS = 100.0
# Summary, plan and recommend have no turn deadline, only the provider timeout: long enough that
# the small summary succeeds even on a machine shared with other work, so token counts are seen.
PROVIDER_TIMEOUT_SECONDS = 300.0
# The deadline cuts the model's wait; recording the failed turn takes a moment more.
DEADLINE_GRACE_SECONDS = 10.0
AI_ERRORS = {502, 503}
PROOF_CHECKS = (
    "no_overlaps",
    "within_available_hours",
    "before_deadline",
    "after_not_before",
    "in_order",
    "part_lengths_ok",
    "breaks_kept",
    "within_daily_cap",
)


@pytest.fixture
async def lane_app(
    settings: Settings, db_session: AsyncSession, local_llm: LocalLLM
) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(
        update={
            "llm_model": MODEL_NAME,
            "openai_base_url": local_llm.base_url,
            "openai_api_key": SecretStr("local"),
            "llm_context_window": CONTEXT_TOKENS,
            "llm_timeout_seconds": PROVIDER_TIMEOUT_SECONDS,
            "llm_max_retries": 0,
            # Small outputs keep the lane short on two cores; limits are what is tested.
            "llm_chat_max_tokens": 48,
            "llm_summary_max_tokens": 48,
            "llm_plan_max_tokens": 160,
            "llm_recommend_max_tokens": 80,
            "chat_turn_deadline_seconds": TURN_DEADLINE_SECONDS,
            "chat_first_step_tool_choice": "required",
        }
    )
    async with running_app(configured, db_session) as app:
        yield app


def documented(app: FastAPI, method: str, path: str, status: int) -> bool:
    operation = app.openapi()["paths"][f"/api/v1{path}"][method]
    return str(status) in operation["responses"]


def assert_acceptable(app: FastAPI, method: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    assert documented(app, method, path, status), (path, status, response.text)
    assert status < 500 or status in AI_ERRORS, (path, status, response.text)
    if status >= 400:
        assert set(response.json()) <= {"code", "message", "details"}


async def timed_chat(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.post("/ai/chat", headers=headers, json=body)
    return response, time.monotonic() - started


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("data: ", 1)[1]))
        for block in text.strip().split("\n\n")
    ]


async def test_every_ai_endpoint_stays_within_its_contract_on_a_real_model(
    lane_app: FastAPI, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    note = await create_note(
        db_session,
        user.id,
        title="Photosynthesis",
        body="Plants turn light, water and carbon dioxide into sugar and oxygen. "
        "The light reactions happen in the thylakoids; the Calvin cycle in the stroma.",
    )
    goal = await create_goal(db_session, user.id, title="Biology exam", target_minutes=90)

    async with api_client(lane_app) as client:
        # Through the API, so it is embedded and becomes a candidate.
        resource = await client.post(
            "/resources",
            headers=headers,
            json={"title": "Photosynthesis explained", "type": "video", "tags": ["biology"]},
        )
        assert resource.status_code == 201, resource.text
        # Chat: a turn as JSON, then the next turn of the conversation as SSE (which always
        # ends with its reply or an error event).
        first, first_took = await timed_chat(
            client, headers, {"message": "What should I study for biology?"}
        )
        assert_acceptable(lane_app, "post", "/ai/chat", first)
        durations = [first_took]
        follow_up: dict[str, Any] = {"message": "Quiz me on photosynthesis."}
        if first.status_code == 200:
            follow_up["conversation_id"] = first.json()["conversation_id"]
        started = time.monotonic()
        streamed = await client.post(
            "/ai/chat", headers={**headers, "Accept": "text/event-stream"}, json=follow_up
        )
        durations.append(time.monotonic() - started)
        assert_acceptable(lane_app, "post", "/ai/chat", streamed)
        if streamed.status_code == 200:
            kinds = [kind for kind, _ in sse_events(streamed.text)]
            assert kinds[0] == "conversation"
            assert kinds[-1] in {"reply", "error"}, kinds

        # One at a time: the test app's requests share the test's database connection.
        summary = await client.post("/ai/summary", headers=headers, json={"note_id": str(note.id)})
        plan = await client.post("/ai/create-plan", headers=headers, json={"goal_id": str(goal.id)})
        assert_acceptable(lane_app, "post", "/ai/summary", summary)
        # A weak model never costs the student their plan: the fallback drafts it.
        assert plan.status_code == 201, plan.text
        proof = plan.json()["proof"]
        assert all(proof[check] for check in PROOF_CHECKS), proof
        recommended = await client.post(
            "/resources/recommend",
            headers=headers,
            json={"context": {"goal_ids": [str(goal.id)], "recent_activity": "photosynthesis"}},
        )
        assert_acceptable(lane_app, "post", "/resources/recommend", recommended)

    assert all(took <= TURN_DEADLINE_SECONDS + DEADLINE_GRACE_SECONDS for took in durations), (
        durations
    )
    runs = (await db_session.scalars(select(AgentRun))).all()
    outcomes = [(r.graph, r.outcome, r.error_code, r.input_tokens, r.output_tokens) for r in runs]
    assert {run.graph for run in runs} >= {"chat", "summary", "plan"}, outcomes
    succeeded = [run for run in runs if run.outcome == "ok"]
    assert succeeded, outcomes
    # Counted by the server's tokenizer and reported in `usage`, not estimated by us.
    assert all(run.input_tokens > 0 and run.output_tokens > 0 for run in succeeded), outcomes
    assert all(run.model == MODEL_NAME for run in runs)
