import math
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.embeddings import Embeddings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.search import EMBEDDING_DIMENSIONS
from core.security import TokenCodec
from domain.embeddings.runtime import EmbeddingRuntime
from domain.resources.models import Resource
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.content import create_resource
from tests.fixtures.factories.users import auth_headers, create_user

SCRIPTED_MODEL = "test:scripted"


def axis(*weights: float) -> list[float]:
    """A unit vector with the given leading components (the rest zero)."""
    norm = math.sqrt(sum(w * w for w in weights))
    return [w / norm for w in weights] + [0.0] * (EMBEDDING_DIMENSIONS - len(weights))


class ScriptedEmbeddings(Embeddings):
    """Maps known query strings to chosen vectors, so rankings can be set up exactly."""

    def __init__(self, queries: dict[str, list[float]]) -> None:
        self.queries = queries

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [axis(1.0) for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.queries[text]


@pytest.fixture
def scripted(app: FastAPI) -> ScriptedEmbeddings:
    embedder = ScriptedEmbeddings({})
    EmbeddingRuntime(embedder, SCRIPTED_MODEL).attach(app.state)
    return embedder


async def embedded(
    session: AsyncSession, user_id: object, vector: list[float], **fields: object
) -> Resource:
    return await create_resource(
        session,
        user_id,  # type: ignore[arg-type]
        embedding=vector,
        embedding_model=SCRIPTED_MODEL,
        embedding_status="ready",
        **fields,
    )


async def test_create_read_update_delete(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    created = await client.post(
        "/resources",
        headers=headers,
        json={
            "title": "Essence of linear algebra",
            "url": "https://Example.com/linear-algebra/#chapter-2",
            "type": "video",
            "tags": ["Math", "math", "Vectors"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"] == "https://example.com/linear-algebra"
    assert body["tags"] == ["math", "vectors"]
    assert body["source"] == "manual"
    resource_id = body["id"]

    fetched = (await client.get(f"/resources/{resource_id}", headers=headers)).json()
    assert fetched["embedding_status"] == "ready"

    patched = await client.patch(
        f"/resources/{resource_id}", headers=headers, json={"type": "course"}
    )
    assert patched.json()["type"] == "course"
    assert (await client.delete(f"/resources/{resource_id}", headers=headers)).status_code == 204
    assert_error(await client.get(f"/resources/{resource_id}", headers=headers), 404, "not_found")


async def test_duplicate_url_for_the_same_user_is_409(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    first = await client.post(
        "/resources",
        headers=auth_headers(codec, user),
        json={"title": "A", "url": "https://example.com/page", "type": "article"},
    )
    same_page = await client.post(
        "/resources",
        headers=auth_headers(codec, user),
        json={"title": "B", "url": "https://EXAMPLE.com/page/#top", "type": "article"},
    )
    body = assert_error(same_page, 409, "duplicate_resource")
    assert body["details"]["existing_id"] == first.json()["id"]
    # Another user may save the same URL.
    theirs = await client.post(
        "/resources",
        headers=auth_headers(codec, other),
        json={"title": "C", "url": "https://example.com/page", "type": "article"},
    )
    assert theirs.status_code == 201


async def test_ai_source_requires_its_recommendation(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    missing = await client.post(
        "/resources", headers=headers, json={"title": "x", "type": "book", "source": "ai"}
    )
    assert_error(missing, 422, "validation_error")
    saved = await client.post(
        "/resources",
        headers=headers,
        json={
            "title": "x",
            "type": "book",
            "source": "ai",
            "recommendation_id": "6f1c2d7e-8a9b-4c3d-9e2f-1a2b3c4d5e6f",
        },
    )
    # Not a recommendation of this user (saving a real one: tests/api/test_ai_recommend.py).
    assert_error(saved, 404, "not_found")


async def test_filters_by_type_and_tag(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    await create_resource(db_session, user.id, title="Video one", type="video", tags=["calc"])
    await create_resource(db_session, user.id, title="Book one", type="book", tags=["calc"])
    await create_resource(db_session, user.id, title="Book two", type="book")
    headers = auth_headers(codec, user)

    async def titles(**params: str) -> set[str]:
        response = await client.get("/resources", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return {item["title"] for item in response.json()["items"]}

    assert await titles(type="book") == {"Book one", "Book two"}
    assert await titles(tag="calc", type="book") == {"Book one"}
    assert_error(
        await client.get("/resources", headers=headers, params={"type": "podcast"}),
        422,
        "validation_error",
    )


async def test_full_text_ranks_title_over_description_over_tags(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    tagged = await create_resource(db_session, user.id, title="Misc", tags=["thermodynamics"])
    described = await create_resource(
        db_session, user.id, title="Physics notes", description="Intro to thermodynamics"
    )
    titled = await create_resource(db_session, user.id, title="Thermodynamics explained")
    await create_resource(db_session, user.id, title="Unrelated", description="Poetry")
    response = await client.get(
        "/resources", headers=auth_headers(codec, user), params={"q": "thermodynamics"}
    )
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(titled.id), str(described.id), str(tagged.id)]
    assert items[0]["score"] > items[1]["score"] > items[2]["score"]


async def test_semantic_search_returns_the_closest_and_only_current_model_vectors(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    scripted: ScriptedEmbeddings,
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    near = await embedded(db_session, user.id, axis(1.0, 0.1), title="near")
    far = await embedded(db_session, user.id, axis(0.2, 1.0), title="far")
    # Same direction as the query but made by another model: incomparable, never returned.
    await create_resource(
        db_session,
        user.id,
        title="old model",
        embedding=axis(1.0),
        embedding_model="old:model",
        embedding_status="ready",
    )
    await embedded(db_session, other.id, axis(1.0), title="someone else's")
    scripted.queries["gradient descent"] = axis(1.0)

    response = await client.get(
        "/resources", headers=auth_headers(codec, user), params={"semantic": "gradient descent"}
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["id"] for item in items] == [str(near.id), str(far.id)]
    assert items[0]["score"] == pytest.approx(1.0 / math.sqrt(1.01), abs=1e-4)


async def test_hybrid_search_fuses_text_and_vector_ranks(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    scripted: ScriptedEmbeddings,
) -> None:
    user = await create_user(db_session)
    # Text ranks: r1 (title match) > r2 (description match). Vector ranks: r2 > r3 > r1.
    r1 = await embedded(db_session, user.id, axis(0.0, 1.0), title="Entropy")
    r2 = await embedded(db_session, user.id, axis(1.0, 0.0), title="Heat", description="entropy")
    r3 = await embedded(db_session, user.id, axis(1.0, 0.6), title="Energy")
    scripted.queries["disorder"] = axis(1.0)
    headers = auth_headers(codec, user)

    async def ids(**params: str) -> list[str]:
        response = await client.get("/resources", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(q="entropy") == [str(r1.id), str(r2.id)]
    assert await ids(semantic="disorder") == [str(r2.id), str(r3.id), str(r1.id)]
    # RRF: r2 = 1/62 + 1/61 > r1 = 1/61 + 1/63 > r3 = 1/62.
    assert await ids(q="entropy", semantic="disorder") == [str(r2.id), str(r1.id), str(r3.id)]


async def _walk(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], between: Any
) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": "4", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/resources", headers=headers, params=query)).json()
        seen += [item["id"] for item in page["items"]]
        await between()
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_text_search_pages_are_stable_while_matching_rows_arrive(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    originals = {
        str((await create_resource(db_session, user.id, title=f"Calculus {'x ' * n}")).id)
        for n in range(9)
    }

    async def insert_match() -> None:
        await create_resource(db_session, user.id, title="Calculus late arrival")

    seen = await _walk(client, auth_headers(codec, user), {"q": "calculus"}, insert_match)
    # A text rank belongs to the row alone, so arrivals never shift a row across pages.
    assert len(seen) == len(set(seen))
    assert originals <= set(seen)


async def test_hybrid_pages_are_stable_while_unrelated_rows_arrive(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    scripted: ScriptedEmbeddings,
) -> None:
    user = await create_user(db_session)
    originals = {
        str((await embedded(db_session, user.id, axis(1.0, n / 10), title=f"Calculus {n}")).id)
        for n in range(9)
    }
    scripted.queries["calculus"] = axis(1.0)

    async def insert_unrelated() -> None:
        await create_resource(db_session, user.id, title="Poetry anthology")

    seen = await _walk(
        client,
        auth_headers(codec, user),
        {"q": "calculus", "semantic": "calculus"},
        insert_unrelated,
    )
    assert seen == list(dict.fromkeys(seen))
    assert set(seen) == originals


async def test_bad_resource_input_is_422_and_writes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    for body in (
        {"title": "x", "type": "podcast"},
        {"title": "x", "type": "book", "url": "ftp://example.com/file"},
        {"title": "x", "type": "book", "url": "not a url"},
        {"title": "", "type": "book"},
        {"title": "x", "type": "book", "tags": ["t"] * 21},
    ):
        assert_error(
            await client.post("/resources", headers=headers, json=body), 422, "validation_error"
        )
    for params in ({"limit": "101"}, {"cursor": "garbage"}, {"q": ""}):
        assert (await client.get("/resources", headers=headers, params=params)).status_code == 422
    assert await db_session.scalar(select(func.count()).select_from(Resource)) == 0
