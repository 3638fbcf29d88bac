"""`GET /search`: notes, resources and document passages in one ranking, each hit cited."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.factories.users import auth_headers, create_user

PAGE_THREE = "Osmotic pressure rises with the solute concentration across the membrane."


async def _world(
    client: httpx.AsyncClient, session: AsyncSession, codec: TokenCodec, user: User
) -> str:
    headers = auth_headers(codec, user)
    # Through the API, so they are embedded as every note and resource is.
    note = {"title": "Osmosis", "body": "Water follows the solute."}
    assert (await client.post("/notes", headers=headers, json=note)).status_code == 201
    resource = {
        "title": "Membranes video",
        "type": "video",
        "url": f"https://example.com/{user.id}",
        "description": "Osmotic balance in cells.",
    }
    assert (await client.post("/resources", headers=headers, json=resource)).status_code == 201
    pdf = pdf_bytes(["Cells.", "Gas exchange in the lungs.", PAGE_THREE])
    uploaded = await client.post(
        "/documents",
        headers=headers,
        files={"file": ("membranes.pdf", pdf, "application/pdf")},
    )
    assert uploaded.status_code == 202, uploaded.text
    document_id: str = uploaded.json()["id"]
    return document_id


async def test_a_sentence_from_page_three_is_found_with_its_page_cited(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    document_id = await _world(client, db_session, codec, user)
    await _world(client, db_session, codec, other)
    headers = auth_headers(codec, user)

    response = await client.get(
        "/search", headers=headers, params={"q": "osmotic pressure solute concentration"}
    )

    assert response.status_code == 200, response.text
    hits = response.json()["items"]
    top = hits[0]
    assert (top["kind"], top["title"]) == ("document", "membranes")
    assert PAGE_THREE in top["snippet"]
    citation = top["citation"]
    assert citation["ref"] == f"document:{document_id}#page=3"
    assert (citation["document_id"], citation["page"]) == (document_id, 3)
    assert citation["char_end"] - citation["char_start"] == len(top["snippet"])
    # Only the caller's own things, whatever matches elsewhere.
    assert {hit["citation"]["document_id"] for hit in hits if hit["kind"] == "document"} == {
        document_id
    }
    # Every word must match (websearch syntax): the note and the resource lack some.
    assert [hit["kind"] for hit in hits] == ["document"]


async def test_kinds_filter_and_semantic_and_hybrid_rank_every_kind(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    await _world(client, db_session, codec, user)
    headers = auth_headers(codec, user)

    async def kinds(**params: str | list[str]) -> list[str]:
        response = await client.get("/search", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [hit["kind"] for hit in response.json()["items"]]

    assert set(await kinds(q="osmosis")) == {"note"}
    assert set(await kinds(q="osmotic", kind=["note", "resource"])) == {"resource"}
    assert set(await kinds(q="osmotic", kind="document")) == {"document"}
    by_meaning = await kinds(semantic="osmotic pressure solute concentration membrane")
    assert by_meaning[0] == "document"
    assert {"note", "resource", "document"} <= set(by_meaning)
    hybrid = await client.get(
        "/search",
        headers=headers,
        params={"q": "osmotic pressure", "semantic": "solute concentration", "limit": 1},
    )
    assert hybrid.json()["items"][0]["kind"] == "document"
    assert hybrid.json()["next_cursor"] is not None
    following = await client.get(
        "/search",
        headers=headers,
        params={
            "q": "osmotic pressure",
            "semantic": "solute concentration",
            "limit": 1,
            "cursor": hybrid.json()["next_cursor"],
        },
    )
    assert following.json()["items"][0]["id"] != hybrid.json()["items"][0]["id"]


async def test_a_deleted_document_is_gone_from_search(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    document_id = await _world(client, db_session, codec, user)
    headers = auth_headers(codec, user)
    params = {"q": "osmotic pressure", "kind": "document"}
    assert (await client.get("/search", headers=headers, params=params)).json()["items"]

    assert (await client.delete(f"/documents/{document_id}", headers=headers)).status_code == 204

    assert (await client.get("/search", headers=headers, params=params)).json()["items"] == []


async def test_a_search_needs_words_or_meaning(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get("/search", headers=auth_headers(codec, user))
    assert_error(response, 422, "validation_error")
    bad_kind = await client.get(
        "/search", headers=auth_headers(codec, user), params={"q": "x", "kind": "goal"}
    )
    assert_error(bad_kind, 422, "validation_error")
