import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.notes.models import Note
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.content import create_note
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.users import auth_headers, create_user


async def test_note_crud_round_trip(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    created = await client.post(
        "/notes",
        headers=headers,
        json={"title": "Krebs cycle", "body": "# Steps\n- citrate", "tags": ["Bio", "bio", "exam"]},
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["tags"] == ["bio", "exam"]

    fetched = await client.get(f"/notes/{note['id']}", headers=headers)
    assert fetched.json()["body"] == "# Steps\n- citrate"
    # The background task ran after the response: the note is now embedded.
    assert fetched.json()["embedding_status"] == "ready"

    patched = await client.patch(
        f"/notes/{note['id']}", headers=headers, json={"body": "updated", "tags": []}
    )
    assert patched.status_code == 200
    assert (patched.json()["body"], patched.json()["tags"]) == ("updated", [])

    assert (await client.delete(f"/notes/{note['id']}", headers=headers)).status_code == 204
    assert_error(await client.get(f"/notes/{note['id']}", headers=headers), 404, "not_found")


async def test_note_links_to_readable_courses_and_their_modules_only(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    own = await create_course(db_session, user.id, modules=1)
    foreign = await create_course(db_session, other.id, modules=1)
    headers = auth_headers(codec, user)
    linked = await client.post(
        "/notes", headers=headers, json={"title": "n", "course_id": str(own.id)}
    )
    assert linked.status_code == 201
    refused = await client.post(
        "/notes", headers=headers, json={"title": "n", "course_id": str(foreign.id)}
    )
    assert_error(refused, 404, "not_found")
    count = await db_session.scalar(select(func.count()).select_from(Note))
    assert count == 1


async def test_list_filters_by_course_and_tag_and_searches_text(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(db_session, user.id)
    await create_note(db_session, user.id, title="Mitosis", body="cell division", tags=["bio"])
    await create_note(db_session, user.id, title="Derivatives", body="limits", course_id=course.id)
    await create_note(db_session, user.id, title="Meiosis", body="cell division in gametes")
    headers = auth_headers(codec, user)

    async def titles(**params: str) -> list[str]:
        response = await client.get("/notes", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles(tag="BIO") == ["Mitosis"]
    assert await titles(course_id=str(course.id)) == ["Derivatives"]
    assert set(await titles(q="cell division")) == {"Mitosis", "Meiosis"}


async def test_oversized_note_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    too_long = await client.post(
        "/notes", headers=headers, json={"title": "big", "body": "x" * 1_000_001}
    )
    assert_error(too_long, 422, "validation_error")
    too_big = await client.post(
        "/notes", headers=headers, json={"title": "big", "body": "x" * 3_000_000}
    )
    assert_error(too_big, 413, "payload_too_large")
    assert await db_session.scalar(select(func.count()).select_from(Note)) == 0
