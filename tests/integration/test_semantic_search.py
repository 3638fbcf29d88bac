"""Semantic search end to end with the real local model: API write, background embedding,
pgvector ranking. The query shares no word with the resource it should find."""

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.embeddings.embedder import LocalEmbedder, model_id
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.factories.users import auth_headers, create_user

RESOURCES = {
    "neural": ("Introduction to neural networks", "Backpropagation, layers and gradient descent"),
    "bread": ("Sourdough at home", "Feeding a starter, proofing and shaping loaves"),
    "french": ("Le passé composé", "Conjugating French verbs with avoir and être"),
}


async def test_the_closest_resource_by_meaning_comes_first(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    settings: Settings,
) -> None:
    EmbeddingRuntime(LocalEmbedder(), model_id(settings)).attach(app.state)
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    ids = {}
    for key, (title, description) in RESOURCES.items():
        response = await client.post(
            "/resources",
            headers=headers,
            json={"title": title, "description": description, "type": "article"},
        )
        assert response.status_code == 201, response.text
        ids[key] = response.json()["id"]

    listed = await client.get("/resources", headers=headers)
    assert {item["embedding_status"] for item in listed.json()["items"]} == {"ready"}

    for query, expected in (
        ("how do machines learn from examples", "neural"),
        ("baking", "bread"),
        ("grammar of a foreign language", "french"),
    ):
        response = await client.get("/resources", headers=headers, params={"semantic": query})
        assert response.status_code == 200, response.text
        assert response.json()["items"][0]["id"] == ids[expected], query
