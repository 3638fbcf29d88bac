"""Slow models never starve the API: no request holds a pooled connection while it waits on a
model, and a pool that is full anyway answers 503 `database_busy` with `Retry-After`.

These tests run their own app on their own database with the pool of a small deployment (two
connections, no overflow), committing for real as production does; the model is a scripted
OpenAI-compatible server that holds every answer until the test lets it go.
"""

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from core import migrate
from core.config import Settings
from core.database_admin import ensure_database
from core.embedded_postgres import EmbeddedPostgres
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import TEST_EMBEDDING_MODEL, TEST_SECRET, api_client
from tests.fixtures.embeddings import HashingEmbedder
from tests.support.scripted_openai import Answer, Json, Reply, ScriptedOpenAI

POOL_DATABASE = "studypilot_small_pool"
# Past the pool's two connections several times over.
SUMMARIES, PLANS, RECOMMENDATIONS, CHATS = 4, 2, 2, 2
CRUD_ROUNDS = 5
SETTLE_TIMEOUT_SECONDS = 60.0


@pytest.fixture(scope="module")
async def small_pool_database(postgres: EmbeddedPostgres) -> str:
    await ensure_database(postgres.url("postgres", "postgresql"), POOL_DATABASE)
    url = postgres.url(POOL_DATABASE)
    await asyncio.to_thread(migrate.upgrade, url)
    return url


def small_pool_settings(database_url: str, base_url: str, pool_timeout: float) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=None,
        jwt_secret=TEST_SECRET,
        embedding_warm_up=False,
        db_pool_size=2,
        db_max_overflow=0,
        db_pool_timeout_seconds=pool_timeout,
        llm_model="gpt-test",
        openai_base_url=base_url,
        openai_api_key=SecretStr("test"),
        llm_max_retries=0,
        ai_requests_per_minute=100,
    )


@pytest.fixture
async def held_model() -> AsyncIterator[tuple[ScriptedOpenAI, threading.Event]]:
    release = threading.Event()
    async with ScriptedOpenAI(responder=fitting_answer, hold=release) as server:
        try:
            yield server, release
        finally:
            release.set()


@asynccontextmanager
async def small_pool_app(
    database_url: str, base_url: str, pool_timeout: float
) -> AsyncIterator[FastAPI]:
    app = create_app(small_pool_settings(database_url, base_url, pool_timeout))
    async with LifespanManager(app):
        EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL).attach(app.state)
        yield app


def fitting_answer(request: Json) -> Reply:
    """A usable answer for whichever task asks: a plan draft, a ranking, else plain text."""
    response_format = request.get("response_format") or {}
    name = (response_format.get("json_schema") or {}).get("name")
    if name == "StudyPlanDraft":
        session = {
            "title": "Read",
            "module_id": None,
            "minutes": 30,
            "objective": "Read it.",
            "preferred_start": None,
        }
        return Answer(json.dumps({"sessions": [session]}))
    if name == "RankedResources":
        return Answer(json.dumps({"recommendations": [{"candidate": 1, "reason": "Close."}]}))
    return Answer("A short answer.")


async def new_student(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"student-{uuid.uuid4().hex[:12]}@example.com"
    password = "correct horse battery staple"
    registered = await client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Ada"}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def created(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **body: Any
) -> str:
    response = await client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    identifier: str = response.json()["id"]
    return identifier


async def wait_for_requests(server: ScriptedOpenAI, count: int) -> None:
    async with asyncio.timeout(SETTLE_TIMEOUT_SECONDS):
        # The server runs in its own thread: polling is the simplest bridge.
        while len(server.requests) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_crud_keeps_answering_while_slow_model_calls_wait(
    small_pool_database: str, held_model: tuple[ScriptedOpenAI, threading.Event]
) -> None:
    server, release = held_model
    # A generous wait for a connection: were any AI call holding one, CRUD would queue behind
    # it, and the in-flight check below would fail rather than a timeout.
    async with (
        small_pool_app(small_pool_database, server.base_url, 30.0) as app,
        api_client(app) as client,
    ):
        headers = await new_student(client)
        goal_id = await created(client, "/goals", headers, title="Pass algebra")
        note_ids = [
            await created(client, "/notes", headers, title=f"Note {n}", body=f"Algebra part {n}.")
            for n in range(SUMMARIES)
        ]
        await created(client, "/resources", headers, title="Algebra primer", type="article")

        ai_calls = [
            *(
                client.post("/ai/summary", headers=headers, json={"note_id": note_id})
                for note_id in note_ids
            ),
            *(
                client.post("/ai/create-plan", headers=headers, json={"goal_id": goal_id})
                for _ in range(PLANS)
            ),
            *(
                client.post(
                    "/resources/recommend",
                    headers=headers,
                    json={"context": {"recent_activity": "algebra"}},
                )
                for _ in range(RECOMMENDATIONS)
            ),
            *(
                client.post("/ai/chat", headers=headers, json={"message": f"Hello {n}"})
                for n in range(CHATS)
            ),
        ]
        in_flight = [asyncio.create_task(call) for call in ai_calls]
        # Every AI call is now waiting on the model, none answered.
        await wait_for_requests(server, len(in_flight))

        for _ in range(CRUD_ROUNDS):
            for path in ("/goals", "/notes", "/resources", "/auth/me"):
                response = await client.get(path, headers=headers)
                assert response.status_code == 200, response.text
        assert not any(task.done() for task in in_flight)

        release.set()
        answers = await asyncio.gather(*in_flight)

    assert [answer.status_code for answer in answers] == [
        *([200] * SUMMARIES),
        *([201] * PLANS),
        *([200] * RECOMMENDATIONS),
        *([200] * CHATS),
    ], [answer.text for answer in answers]
    plans = answers[SUMMARIES : SUMMARIES + PLANS]
    assert all(plan.json()["drafted_by"] == "model" for plan in plans)
    assert all(plan.json()["proof"]["no_overlaps"] for plan in plans)


async def test_a_pool_that_stays_full_answers_503_database_busy(
    small_pool_database: str, held_model: tuple[ScriptedOpenAI, threading.Event]
) -> None:
    server, _ = held_model
    async with (
        small_pool_app(small_pool_database, server.base_url, 0.5) as app,
        api_client(app) as client,
    ):
        headers = await new_student(client)
        engine = app.state.engine
        async with engine.connect(), engine.connect():
            response = await client.get("/goals", headers=headers)
        after = await client.get("/goals", headers=headers)

    body = assert_error(response, 503, "database_busy")
    assert response.headers["Retry-After"] == str(body["details"]["retry_after_seconds"])
    assert after.status_code == 200
    operation = app.openapi()["paths"]["/api/v1/goals"]["get"]
    assert "Retry-After" in operation["responses"]["503"]["headers"]
