"""POST /resources/recommend: candidates by meaning, ranked and explained by a model, stored."""

import json
import math
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.embeddings import Embeddings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vcr.cassette import Cassette

from core.search import EMBEDDING_DIMENSIONS
from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.embeddings.runtime import EmbeddingRuntime
from domain.recommendations.models import Recommendation
from domain.recommendations.service import Candidate, Choice, RecommendationService
from domain.resources.models import Resource
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.content import create_resource
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import (
    ScriptedChatModel,
    cassette_provider,
    recorded_usage,
    scripted,
    tool_call,
)
from tests.support.scripted_openai import ToolCall, ToolCalls

EMBEDDING_MODEL = "test:fixed-query"
TOOL = "RankedResources"


def axis(*weights: float) -> list[float]:
    """A unit vector with the given leading components (the rest zero)."""
    norm = math.sqrt(sum(w * w for w in weights))
    return [w / norm for w in weights] + [0.0] * (EMBEDDING_DIMENSIONS - len(weights))


def cosine_to_query(*weights: float) -> float:
    return weights[0] / math.sqrt(sum(w * w for w in weights))


class FixedQueryEmbeddings(Embeddings):
    """Every query lands on the first axis, so tests place resources around it exactly; the
    texts asked for are kept."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [axis(0.0, 1.0) for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return axis(1.0)


def use_embedder(app: FastAPI) -> FixedQueryEmbeddings:
    embedder = FixedQueryEmbeddings()
    EmbeddingRuntime(embedder, EMBEDDING_MODEL).attach(app.state)
    return embedder


@pytest.fixture
def embedder(app: FastAPI) -> FixedQueryEmbeddings:
    return use_embedder(app)


async def embedded(
    session: AsyncSession, owner: User, vector: list[float], **fields: Any
) -> Resource:
    values: dict[str, Any] = {
        "embedding": vector,
        "embedding_model": EMBEDDING_MODEL,
        "embedding_status": "ready",
    }
    return await create_resource(session, owner.id, **(values | fields))


def ranking(*picks: tuple[int, str]) -> ScriptedChatModel:
    return scripted(
        tool_call(TOOL, recommendations=[{"candidate": n, "reason": why} for n, why in picks])
    )


def sent(model: ScriptedChatModel) -> dict[str, Any]:
    """The data the model was given in its one call."""
    [messages] = model.received
    data: dict[str, Any] = json.loads(str(messages[-1].content))
    return data


async def count(session: AsyncSession, model: type[Recommendation] | type[AgentRun]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def recommend(
    client: httpx.AsyncClient, codec: TokenCodec, user: User, **body: Any
) -> httpx.Response:
    return await client.post("/resources/recommend", headers=auth_headers(codec, user), json=body)


async def test_candidates_are_own_and_public_course_resources_never_anothers_private(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    public = await create_course(db_session, other.id, visibility="public")
    private = await create_course(db_session, other.id, visibility="private")
    mine = await embedded(db_session, me, axis(1.0, 0.3), title="Mine")
    shared = await embedded(db_session, other, axis(1.0, 0.5), title="Shared", course_id=public.id)
    # Closer to the query than anything offered, yet never the caller's to see.
    await embedded(db_session, other, axis(1.0), title="Their private course", course_id=private.id)
    await embedded(db_session, other, axis(1.0, 0.01), title="Their loose resource")
    # The caller's own, but not comparable: another model's vector, or not embedded yet.
    await embedded(db_session, me, axis(1.0), title="Old model", embedding_model="old:model")
    await embedded(db_session, me, axis(1.0), title="Pending", embedding_status="pending")
    model = ranking((2, "Worked examples."), (7, "Invented."), (1, "Your notes."), (2, "Again."))
    app.state.chat_models.with_model("recommend", model)

    response = await recommend(client, codec, me, context={"recent_activity": "eigenvalues"})

    assert response.status_code == 200, response.text
    assert [c["title"] for c in sent(model)["candidates"]] == ["Mine", "Shared"]
    body = response.json()
    assert body["model"] == "ScriptedChatModel"
    assert body["prompt_version"] == "recommend/rerank@v1"
    items = body["items"]
    assert [(i["resource"]["id"], i["reason"], i["rank"]) for i in items] == [
        (str(shared.id), "Worked examples.", 1),
        (str(mine.id), "Your notes.", 2),
    ]
    assert items[0]["score"] == pytest.approx(cosine_to_query(1.0, 0.5), abs=1e-4)
    assert items[1]["resource"]["title"] == "Mine"

    run = (await db_session.scalars(select(AgentRun))).one()
    assert (run.user_id, run.graph, run.outcome) == (me.id, "recommend", "ok")
    assert run.prompt_version == "recommend/rerank@v1"
    stored = (await db_session.scalars(select(Recommendation).order_by(Recommendation.rank))).all()
    assert [(r.id, r.user_id, r.resource_id, r.agent_run_id) for r in stored] == [
        (uuid.UUID(items[0]["id"]), me.id, shared.id, run.id),
        (uuid.UUID(items[1]["id"]), me.id, mine.id, run.id),
    ]


async def test_the_context_drives_the_query_and_the_prompt(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    own = await create_course(
        db_session, me.id, title="Linear algebra", description="Vectors and matrices", modules=2
    )
    # Public courses are readable by anyone, so they may describe what the caller studies.
    theirs = await create_course(
        db_session, other.id, title="Numerical methods", description=None, visibility="public"
    )
    goal = await create_goal(db_session, me.id, title="Pass the exam", description="In June")
    await embedded(db_session, me, axis(1.0, 0.2), title="Mine")
    model = ranking((1, "Fits."))
    app.state.chat_models.with_model("recommend", model)

    response = await recommend(
        client,
        codec,
        me,
        context={
            "course_ids": [str(own.id), str(theirs.id), str(own.id)],
            "goal_ids": [str(goal.id)],
            "recent_activity": "  Stuck on eigenvalues  ",
        },
        limit=1,
    )

    assert response.status_code == 200, response.text
    assert embedder.queries == [
        "Stuck on eigenvalues\nPass the exam\nIn June\nLinear algebra\nVectors and matrices\n"
        "Module 0\nModule 1\nNumerical methods"
    ]
    assert sent(model)["learner"] == {
        "courses": [
            {
                "title": "Linear algebra",
                "description": "Vectors and matrices",
                "modules": ["Module 0", "Module 1"],
            },
            {"title": "Numerical methods", "description": None, "modules": []},
        ],
        "goals": [{"title": "Pass the exam", "description": "In June"}],
        "recent_activity": "Stuck on eigenvalues",
    }


async def test_another_users_course_or_goal_is_404_and_nothing_runs(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    own_course = await create_course(db_session, me.id)
    private = await create_course(db_session, other.id, visibility="private")
    their_goal = await create_goal(db_session, other.id)
    await embedded(db_session, me, axis(1.0), title="Mine")
    model = ranking((1, "Never asked."))
    app.state.chat_models.with_model("recommend", model)

    for context, missing in (
        ({"course_ids": [str(own_course.id), str(private.id)]}, {"course_ids": [str(private.id)]}),
        ({"goal_ids": [str(their_goal.id)]}, {"goal_ids": [str(their_goal.id)]}),
        ({"course_ids": [str(uuid.uuid4())]}, None),
    ):
        body = assert_error(await recommend(client, codec, me, context=context), 404, "not_found")
        if missing is not None:
            assert body["details"] == missing

    assert embedder.queries == []
    assert model.received == []
    assert await count(db_session, AgentRun) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"context": {}},
        {"context": {"course_ids": [], "goal_ids": []}},
        {"context": {"recent_activity": "   "}},
        {"context": {"recent_activity": "x" * 2001}},
        {"context": {"recent_activity": "algebra"}, "limit": 0},
        {"context": {"recent_activity": "algebra"}, "limit": 21},
        {"context": {"recent_activity": "algebra", "mood": "tired"}},
        {},
    ],
    ids=[
        "empty",
        "empty-lists",
        "blank-activity",
        "long-activity",
        "limit-0",
        "limit-21",
        "unknown-field",
        "no-context",
    ],
)
async def test_invalid_request_is_422(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    body: dict[str, Any],
) -> None:
    user = await create_user(db_session)
    model = ranking((1, "Never asked."))
    app.state.chat_models.with_model("recommend", model)
    response = await client.post(
        "/resources/recommend", headers=auth_headers(codec, user), json=body
    )
    assert_error(response, 422, "validation_error")
    assert model.received == []


async def test_a_recommendation_is_saved_through_post_resources_by_its_owner_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    public = await create_course(db_session, other.id, visibility="public")
    await embedded(
        db_session, other, axis(1.0), title="Eigen intuition", type="video", course_id=public.id
    )
    app.state.chat_models.with_model("recommend", ranking((1, "Builds intuition.")))
    [item] = (await recommend(client, codec, me, context={"recent_activity": "eigen"})).json()[
        "items"
    ]
    found = item["resource"]

    def save(recommendation_id: object) -> dict[str, Any]:
        return {
            "title": found["title"],
            "url": found["url"],
            "type": found["type"],
            "source": "ai",
            "recommendation_id": str(recommendation_id),
        }

    saved = await client.post("/resources", headers=auth_headers(codec, me), json=save(item["id"]))
    assert saved.status_code == 201, saved.text
    assert (saved.json()["source"], saved.json()["recommendation_id"]) == ("ai", item["id"])

    # Someone else's recommendation, or one that never existed, cannot be claimed.
    thief = await create_user(db_session)
    for user, recommendation_id in ((thief, item["id"]), (me, uuid.uuid4())):
        refused = await client.post(
            "/resources", headers=auth_headers(codec, user), json=save(recommendation_id)
        )
        assert_error(refused, 404, "not_found")
    assert (
        await db_session.scalar(
            select(func.count()).select_from(Resource).where(Resource.source == "ai")
        )
        == 1
    )


async def test_no_model_configured_is_503_and_writes_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    user = await create_user(db_session)
    await embedded(db_session, user, axis(1.0), title="Mine")
    response = await recommend(client, codec, user, context={"recent_activity": "algebra"})
    assert_error(response, 503, "llm_not_configured")
    assert await count(db_session, Recommendation) == 0
    assert await count(db_session, AgentRun) == 0


async def test_no_candidates_answers_empty_without_calling_the_model(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    await embedded(db_session, other, axis(1.0), title="Their loose resource")
    model = ranking((1, "Never asked."))
    app.state.chat_models.with_model("recommend", model)

    response = await recommend(client, codec, me, context={"recent_activity": "algebra"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [],
        "model": "ScriptedChatModel",
        "prompt_version": "recommend/rerank@v1",
        "drafted_by": "model",
        "fallback_reason": None,
    }
    assert model.received == []
    assert await count(db_session, AgentRun) == 0


@pytest.mark.parametrize(
    "replies",
    [
        ("Try the linear algebra videos!", "Really, the videos."),
        (tool_call(TOOL, recommendations=[{"candidate": 9, "reason": "Not offered."}]),),
    ],
    ids=["text-twice", "nothing-offered-picked"],
)
async def test_an_unusable_ranking_falls_back_to_meaning_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    embedder: FixedQueryEmbeddings,
    replies: tuple[Any, ...],
) -> None:
    user = await create_user(db_session)
    near = await embedded(db_session, user, axis(1.0, 0.2), title="Near")
    nearest = await embedded(db_session, user, axis(1.0), title="Nearest")
    await embedded(db_session, user, axis(0.1, 1.0), title="Far")
    model = scripted(*replies)
    app.state.chat_models.with_model("recommend", model)

    response = await recommend(client, codec, user, context={"recent_activity": "algebra"}, limit=2)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["drafted_by"] == "fallback"
    assert body["fallback_reason"]
    assert len(model.received) == len(replies)
    items = body["items"]
    assert [(i["rank"], i["resource"]["id"]) for i in items] == [
        (1, str(nearest.id)),
        (2, str(near.id)),
    ]
    assert items[0]["reason"] == (
        "Among the closest in meaning to what you studied lately (similarity 1.00)."
    )
    assert await count(db_session, Recommendation) == 2


async def test_a_run_that_was_not_recorded_leaves_the_link_empty(db_session: AsyncSession) -> None:
    # Recording a run never fails the answer (agents/runs.py), so its row may be missing.
    user = await create_user(db_session)
    resource = await embedded(db_session, user, axis(1.0), title="Mine")
    choice = Choice(Candidate(resource, 1.0), "Fits.")
    [view] = await RecommendationService(db_session).record(user.id, [choice], uuid.uuid4())
    assert view.recommendation.agent_run_id is None
    assert (view.recommendation.resource_id, view.recommendation.rank) == (resource.id, 1)


# What the scripted OpenAI-compatible server answered when the cassette was recorded.
RECORDED_ANSWER: dict[str, Any] = {
    "recommendations": [
        {"candidate": 2, "reason": "Its worked examples match the eigenvalue problems you are on."},
        {"candidate": 1, "reason": "A visual recap of eigenvectors before the exercises."},
    ]
}


@pytest.fixture
async def provider(record_mode: str) -> AsyncIterator[dict[str, str]]:
    replies = [ToolCalls([ToolCall(TOOL, RECORDED_ANSWER)])]
    async with cassette_provider(record_mode, replies) as settings:
        # Recorded with a forced tool call, the structured-output way every server has.
        yield settings | {"llm_structured_output": "tool_calling"}


@pytest.fixture
def provider_app(provider_app: FastAPI) -> FastAPI:
    use_embedder(provider_app)
    return provider_app


@pytest.mark.vcr
async def test_recorded_chat_completion_drives_the_real_client(
    provider_app: FastAPI, db_session: AsyncSession, codec: TokenCodec, vcr: Cassette
) -> None:
    me, other = await create_user(db_session), await create_user(db_session)
    public = await create_course(db_session, other.id, title="Linear algebra", visibility="public")
    mine = await embedded(
        db_session, me, axis(1.0, 0.3), title="Eigenvectors, visually", type="video"
    )
    shared = await embedded(
        db_session,
        other,
        axis(1.0, 0.5),
        title="Eigenvalue problem set",
        type="exercise",
        description="Twenty problems with worked solutions.",
        course_id=public.id,
    )
    transport = httpx.ASGITransport(app=provider_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        response = await recommend(
            client, codec, me, context={"recent_activity": "eigenvalue exercises"}, limit=2
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "gpt-4o-mini"
    assert [(item["resource"]["id"], item["reason"]) for item in body["items"]] == [
        (str(shared.id), RECORDED_ANSWER["recommendations"][0]["reason"]),
        (str(mine.id), RECORDED_ANSWER["recommendations"][1]["reason"]),
    ]
    run = (await db_session.scalars(select(AgentRun))).one()
    assert run.model == "gpt-4o-mini"
    # The provider's usage reached the run through the graph's callbacks.
    # Exactly what the recorded responses reported: daily budgets are charged from these.
    assert (run.input_tokens, run.output_tokens) == recorded_usage(vcr)
    stored = (await db_session.scalars(select(Recommendation))).all()
    assert {r.agent_run_id for r in stored} == {run.id}
