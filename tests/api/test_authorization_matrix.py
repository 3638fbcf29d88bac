"""Ids in request bodies and queries, derived from the OpenAPI spec: another user's id answers 404
and changes nothing in any table; the owner's id works (2xx). And every operation that declares a
security requirement answers 401 without a token.

`id_fields` reads every `*_id` / `*_ids` field (and the `id` inside `context_refs`) from each
operation's query parameters and request body schema, so a route added later with such a field
fails `test_every_id_in_a_body_or_query_is_covered` until it has a template below.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.plans.models import PlanReplanProposal, StudyPlan
from domain.recommendations.models import Recommendation
from domain.users.models import User
from tests.api.test_authorization import _world_of
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted, tool_call
from tests.fixtures.tables import snapshot
from tests.fixtures.voice import LIVEKIT_KEY, LIVEKIT_SECRET, LIVEKIT_URL

API = "/api/v1"
_ID_NAME = re.compile(r"_ids?$")
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Template:
    """A request every user can send with their own ids; `{name}` takes an id of the world."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    # Sent as multipart form fields beside a small file (uploads), not as JSON.
    multipart: bool = False

    def fields(self) -> set[str]:
        return {f"query.{name}" for name in self.params} | _leaves(self.body or {}, "body.")


def _leaves(value: Any, prefix: str) -> set[str]:
    """Dotted paths of the values in a body: `a.b` for objects, `a[].b` inside lists of them."""
    if isinstance(value, dict):
        return {leaf for key, item in value.items() for leaf in _leaves(item, f"{prefix}{key}.")}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return _leaves(value[0], f"{prefix.removesuffix('.')}[].")
    return {prefix.removesuffix(".")}


TEMPLATES = [
    Template("PUT", "/courses/{course_id}/modules/order", {"module_ids": ["{module_id}"]}),
    Template("GET", "/goals", params={"course_id": "{course_id}"}),
    Template("POST", "/goals", {"title": "Pass", "course_id": "{course_id}"}),
    Template("PATCH", "/goals/{goal_id}", {"course_id": "{course_id}"}),
    Template("GET", "/notes", params={"course_id": "{course_id}"}),
    Template(
        "POST",
        "/notes",
        {"title": "N", "body": "b", "course_id": "{course_id}", "module_id": "{module_id}"},
    ),
    Template("PATCH", "/notes/{note_id}", {"course_id": "{course_id}", "module_id": "{module_id}"}),
    Template("GET", "/documents", params={"course_id": "{course_id}"}),
    Template(
        "POST",
        "/documents",
        {"course_id": "{course_id}", "module_id": "{module_id}"},
        multipart=True,
    ),
    Template("GET", "/resources", params={"course_id": "{course_id}"}),
    Template(
        "POST",
        "/resources",
        {
            "title": "R",
            "url": "https://example.com/r",
            "type": "article",
            "source": "ai",
            "course_id": "{course_id}",
            "recommendation_id": "{recommendation_id}",
        },
    ),
    Template("PATCH", "/resources/{resource_id}", {"course_id": "{course_id}"}),
    Template(
        "POST",
        "/schedule",
        {
            "title": "Study",
            "start": SOON.isoformat(),
            "end": (SOON + timedelta(hours=1)).isoformat(),
            "kind": "study",
            "course_id": "{course_id}",
            "goal_id": "{goal_id}",
        },
    ),
    Template("PATCH", "/schedule/{block_id}", {"course_id": "{course_id}", "goal_id": "{goal_id}"}),
    Template(
        "POST",
        "/reminders",
        {"remind_at": SOON.isoformat(), "message": "Study", "schedule_block_id": "{block_id}"},
    ),
    Template(
        "POST",
        "/reminders",
        {"remind_at": SOON.isoformat(), "message": "Go", "goal_id": "{goal_id}"},
    ),
    Template(
        "POST",
        "/ai/chat",
        {
            "message": "Help me revise.",
            "conversation_id": "{conversation_id}",
            "context_refs": {"note_ids": ["{note_id}"], "course_ids": ["{course_id}"]},
        },
    ),
    Template(
        "POST",
        "/resources/recommend",
        {"context": {"course_ids": ["{course_id}"], "goal_ids": ["{goal_id}"]}},
    ),
    Template(
        "POST",
        "/ai/voice-session",
        {
            "conversation_id": "{conversation_id}",
            "course_id": "{course_id}",
            "note_ids": ["{note_id}"],
        },
    ),
    Template("POST", "/ai/summary", {"note_id": "{note_id}"}),
    Template("POST", "/ai/summary", {"course_id": "{course_id}"}),
    Template("POST", "/ai/summary", {"document_id": "{document_id}"}),
    Template(
        "POST", "/ai/create-plan", {"goal_id": "{goal_id}", "end_date": SOON.date().isoformat()}
    ),
    Template(
        "POST", "/ai/create-plan", {"course_id": "{course_id}", "end_date": SOON.date().isoformat()}
    ),
    Template("POST", "/plans/{plan_id}/replan/accept", {"proposal_id": "{proposal_id}"}),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Voice sessions answer 503 until LiveKit is configured; the owner control needs a 201.
    return settings.model_copy(
        update={
            "livekit_url": LIVEKIT_URL,
            "livekit_api_key": LIVEKIT_KEY,
            "livekit_api_secret": SecretStr(LIVEKIT_SECRET),
        }
    )


def _schema(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _body_fields(spec: dict[str, Any], schema: dict[str, Any], prefix: str) -> set[str]:
    schema = _schema(spec, schema)
    found: set[str] = set()
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found |= _body_fields(spec, variant, prefix)
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if _ID_NAME.search(name) or (prefix.endswith("[].") and name == "id"):
            found.add(path)
        variants = [_schema(spec, prop), *(_schema(spec, s) for s in prop.get("anyOf", []))]
        for candidate in variants:
            if candidate.get("type") == "array":
                found |= _body_fields(spec, candidate.get("items", {}), f"{path}[].")
            elif "properties" in candidate:
                found |= _body_fields(spec, candidate, f"{path}.")
    return found


def id_fields(spec: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(method, path, field) for every id a request carries outside its path."""
    found = set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {
                f"query.{p['name']}"
                for p in operation.get("parameters", [])
                if p["in"] == "query" and _ID_NAME.search(p["name"])
            }
            for content in operation.get("requestBody", {}).get("content", {}).values():
                names |= _body_fields(spec, content["schema"], "body.")
            found |= {(method.upper(), path.removeprefix(API), name) for name in names}
    return found


def _cases() -> list[tuple[Template, str]]:
    return [(t, name) for t in TEMPLATES for name in sorted(t.fields()) if _is_id(name)]


def _is_id(name: str) -> bool:
    return bool(_ID_NAME.search(name)) or name.endswith("[].id")


# Where another user's id is not a 404, it must still answer exactly as an id that exists for
# nobody, so the answer tells nothing about other users' objects.
NOT_404 = {
    # A filter narrows the caller's own list: someone else's course matches none of it.
    ("GET", "/goals", "query.course_id"): 200,
    ("GET", "/notes", "query.course_id"): 200,
    ("GET", "/resources", "query.course_id"): 200,
    ("GET", "/documents", "query.course_id"): 200,
    # The order must list the course's own modules; any other id is a bad order.
    ("PUT", "/courses/{course_id}/modules/order", "body.module_ids"): 422,
}
NOBODYS_ID = "7d2f7f06-2f43-4a53-9f2c-4c5e1d1e0a11"


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _request(
    template: Template, own: dict[str, str], foreign: dict[str, str], target: str
) -> dict[str, Any]:
    """The template with the caller's own ids, except at `target`, which gets `foreign` ids."""

    def fill(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: fill(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return [fill(item, f"{path}[]") for item in value]
        return _fill(value, foreign if path == target else own)

    params = {key: fill(value, f"query.{key}") for key, value in template.params.items()}
    body = fill(template.body, "body") if template.body is not None else None
    request = {"method": template.method, "url": _fill(template.path, own), "params": params}
    if template.multipart:
        return request | {"data": body, "files": {"file": ("m.txt", b"Some text.", "text/plain")}}
    return request | {"json": body}


async def _world(session: AsyncSession, user: User) -> dict[str, str]:
    ids = await _world_of(session, user)
    recommendation = Recommendation(
        user_id=user.id, resource_id=ids["resource_id"], reason="Fits.", rank=1
    )
    session.add(recommendation)
    # An accepted plan with a re-plan proposed (one that moves nothing, so it always applies).
    followed = StudyPlan(
        user_id=user.id,
        goal_id=ids["goal_id"],
        title="Followed",
        status="accepted",
        auto_replan=False,
        timezone="UTC",
        start_date=SOON.date(),
        end_date=SOON.date(),
        fits=True,
        proof={},
        model="test",
        prompt_version="plan/draft@v2",
        sessions=[],
    )
    session.add(followed)
    await session.flush()
    proposal = PlanReplanProposal(
        plan_id=followed.id,
        user_id=user.id,
        replanned_by="scheduler",
        summary="Nothing moves.",
        replaced_block_ids=[],
        sessions=[],
        proof={},
    )
    session.add(proposal)
    await session.commit()
    return ids | {
        "recommendation_id": str(recommendation.id),
        # The world's draft plan aside: the plan whose proposal is accepted.
        "plan_id": str(followed.id),
        "proposal_id": str(proposal.id),
    }


def _script_models(app: FastAPI) -> None:
    """Models for the owner's AI calls; another user's never reach them."""
    app.state.chat_models.with_model("chat", scripted("Here is a plan."))
    app.state.chat_models.with_model("summary", scripted("A short summary."))
    draft = [{"title": "Review", "minutes": 45, "objective": "Review it."}]
    app.state.chat_models.with_model("plan", scripted(tool_call("StudyPlanDraft", sessions=draft)))
    picks = [{"candidate": 1, "reason": "Fits the course."}]
    app.state.chat_models.with_model(
        "recommend", scripted(tool_call("RankedResources", recommendations=picks))
    )


@pytest.mark.parametrize(
    ("template", "target"),
    _cases(),
    ids=lambda v: v if isinstance(v, str) else f"{v.method} {v.path}",
)
async def test_another_users_id_in_a_body_or_query_is_404_and_changes_nothing(
    template: Template,
    target: str,
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    alices, bobs = await _world(db_session, alice), await _world(db_session, bob)
    _script_models(app)
    before = await snapshot(db_session)

    response = await client.request(
        **_request(template, bobs, alices, target), headers=auth_headers(codec, bob)
    )

    unknown = await client.request(
        **_request(template, bobs, dict.fromkeys(bobs, NOBODYS_ID), target),
        headers=auth_headers(codec, bob),
    )
    expected = NOT_404.get((template.method, template.path, target), 404)
    assert response.status_code == expected, response.text
    if expected == 404:
        assert_error(response, 404, "not_found")
    elif expected == 200:
        assert response.json()["items"] == []
    assert (response.status_code, response.json().get("code")) == (
        unknown.status_code,
        unknown.json().get("code"),
    )
    assert await snapshot(db_session) == before

    # Control: the same request with the owner's own ids works, so the 404 was about ownership.
    owned = await client.request(
        **_request(template, bobs, bobs, target), headers=auth_headers(codec, bob)
    )
    assert 200 <= owned.status_code < 300, owned.text


def test_every_id_in_a_body_or_query_is_covered(app: FastAPI) -> None:
    derived = id_fields(app.openapi())
    covered = {(t.method, t.path, name) for t, name in _cases()}
    assert derived - covered == set()
    assert covered - derived == set(), "a template names a field the spec does not have"
    assert derived, "the derivation found no ids at all"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [
        (method.upper(), path, bool(operation.get("security")))
        for path, operations in sorted(spec["paths"].items())
        for method, operation in sorted(operations.items())
    ]


async def test_every_secured_operation_answers_401_without_a_token(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    spec = app.openapi()
    public = {path for _, path, secured in _operations(spec) if not secured}
    assert public <= {
        f"{API}/health",
        f"{API}/auth/register",
        f"{API}/auth/login",
        f"{API}/auth/refresh",
        # Signed by LiveKit, not by a user: the signature is checked instead of a token.
        f"{API}/ai/voice-session/webhook",
        # The websocket protocol's JSON Schema, published like the OpenAPI document.
        f"{API}/realtime/schema",
    }
    placeholder = "00000000-0000-4000-8000-000000000000"
    before = await snapshot(db_session)
    for method, path, secured in _operations(spec):
        if not secured:
            continue
        # Well-formed path values: the token is checked whatever the path holds.
        url = re.sub(r"\{original_start\}", SOON.isoformat(), path.removeprefix(API))
        url = re.sub(r"\{[^}]+\}", placeholder, url)
        response = await client.request(method, url, json={})
        assert response.status_code == 401, f"{method} {path}: {response.text}"
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await snapshot(db_session) == before
