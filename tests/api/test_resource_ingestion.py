"""`POST /resources` with `ingest`: the page is fetched (safely) and becomes a document."""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.documents.models import Document, DocumentChunk
from domain.resources.models import Resource
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.web import web_server

SERVER_HOST = "127.0.0.2"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The explicit test-only allowance for the local server; 127.0.0.1 stays refused.
    return settings.model_copy(
        update={"url_fetch_allowed_addresses": [SERVER_HOST], "document_max_bytes": 100_000}
    )


def _resource(url: str) -> dict[str, object]:
    return {"title": "Osmosis page", "type": "article", "url": url, "ingest": True}


async def test_an_ingested_page_becomes_a_ready_document_of_the_resource(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    with web_server(SERVER_HOST) as server:
        response = await client.post(
            "/resources", headers=headers, json=_resource(server.url("/page.html"))
        )

    assert response.status_code == 201, response.text
    created = response.json()
    document = (await client.get(f"/documents/{created['document_id']}", headers=headers)).json()
    assert (document["status"], document["kind"]) == ("ready", "html")
    assert (document["resource_id"], document["title"]) == (created["id"], "Osmosis page")
    chunks = (await db_session.scalars(select(DocumentChunk))).all()
    assert all("steal" not in chunk.text for chunk in chunks)
    hits = await client.get("/search", headers=headers, params={"q": "osmotic pressure"})
    assert hits.json()["items"][0]["citation"]["document_id"] == created["document_id"]
    assert hits.json()["items"][0]["citation"]["headings"] == ["Osmosis", "Pressure"]


async def test_loopback_and_redirects_to_it_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    with (
        web_server("127.0.0.1") as direct,
        web_server(SERVER_HOST, redirect_to=direct.url("/page.html")) as redirecting,
    ):
        refused = await client.post(
            "/resources", headers=headers, json=_resource(direct.url("/page.html"))
        )
        redirected = await client.post(
            "/resources", headers=headers, json=_resource(redirecting.url("/redirect"))
        )
        metadata = await client.post(
            "/resources", headers=headers, json=_resource("http://169.254.169.254/latest/")
        )
    for response in (refused, redirected, metadata):
        assert_error(response, 422, "url_not_allowed")
    for model in (Resource, Document):
        assert await db_session.scalar(select(func.count()).select_from(model)) == 0


async def test_pages_too_large_or_failing_are_refused_and_ingest_needs_a_url(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    with web_server(SERVER_HOST) as server:
        big = await client.post("/resources", headers=headers, json=_resource(server.url("/big")))
        missing = await client.post(
            "/resources", headers=headers, json=_resource(server.url("/missing"))
        )
    assert_error(big, 413, "document_too_large")
    assert_error(missing, 422, "url_fetch_failed")
    no_url = {"title": "x", "type": "article", "ingest": True}
    assert_error(
        await client.post("/resources", headers=headers, json=no_url), 422, "validation_error"
    )
    assert await db_session.scalar(select(func.count()).select_from(Resource)) == 0
