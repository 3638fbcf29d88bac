"""Uploading study material: sniffed, stored, processed off the request into cited chunks."""

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.events import Event, EventBus
from core.security import TokenCodec
from domain.documents.models import Document, DocumentChunk
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.documents import docx_bytes, many_entries_docx, pdf_bytes, zip_bomb_docx
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.tables import snapshot

PAGE_THREE = "Osmotic pressure rises with the solute concentration across the membrane."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Small limits, so the size tests send little.
    return settings.model_copy(
        update={
            "document_max_bytes": 300_000,
            "document_quota_bytes": 600_000,
            "document_max_unzipped_bytes": 5 * 1024 * 1024,
            "document_max_zip_entries": 50,
        }
    )


async def _upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        "/documents", headers=headers, files={"file": (name, data, content_type)}, data=fields
    )


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


async def _chunks(session: AsyncSession, document_id: str) -> list[DocumentChunk]:
    result = await session.execute(
        select(DocumentChunk)
        .where(DocumentChunk.document_id == document_id)
        .order_by(DocumentChunk.position)
    )
    return list(result.scalars())


async def test_a_pdf_is_accepted_then_ready_with_chunks_cited_by_page(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    bus: EventBus = app.state.event_bus
    stream = bus.subscribe(user.id, after=await bus.last_event_id(user.id))
    pages = ["Cells and membranes.", "Diffusion of gases.", PAGE_THREE]

    accepted = await _upload(
        client, headers, "bio.pdf", pdf_bytes(pages), "text/plain", tags=["Bio", "bio"]
    )

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "processing"
    document_id = accepted.json()["id"]
    # The background processing ran once the response was sent.
    read = (await client.get(f"/documents/{document_id}", headers=headers)).json()
    assert read["status"] == "ready", read
    # Typed from the bytes, not from the client's "text/plain".
    assert (read["kind"], read["content_type"]) == ("pdf", "application/pdf")
    assert (read["page_count"], read["title"], read["tags"]) == (3, "bio", ["bio"])
    chunks = await _chunks(db_session, document_id)
    assert read["chunk_count"] == len(chunks) == 3
    assert [c.page for c in chunks] == [1, 2, 3]
    assert PAGE_THREE in chunks[2].text
    assert all(c.embedding_status == "ready" for c in chunks)
    assert {c.embedding_model for c in chunks} == {TEST_EMBEDDING_MODEL}
    assert all(c.char_end - c.char_start == len(c.text) for c in chunks)
    assert chunks[1].char_start > chunks[0].char_end

    statuses = [(await asyncio.wait_for(anext(stream), 10)).event for _ in range(2)]
    assert [(e.type, e.topic, e.data["status"]) for e in statuses] == [
        ("document.updated", "documents", "processing"),
        ("document.updated", "documents", "ready"),
    ]
    assert statuses[1].data == read | {"updated_at": statuses[1].data["updated_at"]}
    await bus.publish([Event(user.id, "documents", "marker", {})])
    assert (await asyncio.wait_for(anext(stream), 10)).event.type == "marker"


async def test_content_is_the_original_file_for_its_owner_only(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, other = await create_user(db_session), await create_user(db_session)
    page = b"<html><body><h1>Title</h1><p>x</p><script>alert(1)</script></body></html>"
    document_id = (await _upload(client, auth_headers(codec, owner), "p.html", page)).json()["id"]

    content = await client.get(
        f"/documents/{document_id}/content", headers=auth_headers(codec, owner)
    )
    assert content.status_code == 200
    assert content.content == page
    assert content.headers["content-type"].startswith("text/html")
    assert content.headers["content-disposition"].startswith("attachment;")
    assert content.headers["content-security-policy"] == "sandbox"
    assert content.headers["x-content-type-options"] == "nosniff"
    foreign = await client.get(
        f"/documents/{document_id}/content", headers=auth_headers(codec, other)
    )
    assert_error(foreign, 404, "not_found")

    # A file the storage lost is a 404 for its owner too, not a server error.
    await app.state.document_storage.delete(f"{owner.id}/{document_id}")
    lost = await client.get(f"/documents/{document_id}/content", headers=auth_headers(codec, owner))
    assert_error(lost, 404, "not_found")


async def test_html_scripts_are_never_stored_and_headings_become_the_path(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    page = (
        "<!DOCTYPE html><html><head><title>Glycolysis</title>"
        "<script>stealTokens()</script><style>p{color:red}</style></head><body>"
        "<h1>Energy</h1><p>Cells need <b>energy</b>.</p>"
        "<h2>Glycolysis</h2><p>Glucose is split into pyruvate.</p>"
        "<script>document.write('injected')</script></body></html>"
    )
    accepted = await _upload(client, auth_headers(codec, user), "page.txt", page.encode())
    fetched = await client.get(
        f"/documents/{accepted.json()['id']}", headers=auth_headers(codec, user)
    )
    read = fetched.json()
    assert (read["kind"], read["status"]) == ("html", "ready")
    chunks = await _chunks(db_session, read["id"])
    text = " ".join(c.text for c in chunks)
    for unwanted in ("stealTokens", "injected", "color"):
        assert unwanted not in text
    assert "<" not in text
    assert "Cells need energy." in text
    assert [c.headings for c in chunks] == [["Energy"], ["Energy", "Glycolysis"]]


async def test_markdown_and_word_files_are_chunked_with_their_headings(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    markdown = "# Genetics\n\nDNA holds genes.\n\n## Replication\n\nHelicase unwinds DNA.\n"
    md = await _upload(client, headers, "notes.md", markdown.encode(), "text/markdown")
    md_chunks = await _chunks(db_session, md.json()["id"])
    assert [c.headings for c in md_chunks] == [["Genetics"], ["Genetics", "Replication"]]

    word = docx_bytes([("Proteins", "Ribosomes translate messenger RNA into proteins.")])
    docx = await _upload(client, headers, "proteins.docx", word)
    read = (await client.get(f"/documents/{docx.json()['id']}", headers=headers)).json()
    assert (read["kind"], read["status"]) == ("docx", "ready")
    assert "Ribosomes translate" in (await _chunks(db_session, read["id"]))[0].text

    # A PDF header after a few stray bytes is still a PDF, as readers take it.
    prefixed = await _upload(client, headers, "p.pdf", b"\r\n\r\n" + pdf_bytes(["Stray bytes."]))
    read = (await client.get(f"/documents/{prefixed.json()['id']}", headers=headers)).json()
    assert (read["kind"], read["status"]) == ("pdf", "ready")

    plain = await _upload(client, headers, "t.txt", b"Plain words about photosynthesis.")
    read = (await client.get(f"/documents/{plain.json()['id']}", headers=headers)).json()
    assert (read["kind"], read["status"], read["chunk_count"]) == ("text", "ready", 1)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", pdf_bytes(["secret"], user_password="pw"), "password-protected"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<>> garbage", "damaged"),
        ("scan.pdf", pdf_bytes([""]), "No text"),
        ("broken.docx", b"PK\x03\x04" + b"\x00" * 200, None),
    ],
)
async def test_unreadable_files_end_failed_with_a_reason_and_no_chunks(
    name: str,
    data: bytes,
    reason: str | None,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    response = await _upload(client, headers, name, data)
    if reason is None:
        # A zip that is not even a zip is refused at the door.
        assert_error(response, 415, "unsupported_media_type")
        return
    assert response.status_code == 202, response.text
    read = (await client.get(f"/documents/{response.json()['id']}", headers=headers)).json()
    assert read["status"] == "failed"
    assert reason in read["failure_reason"]
    assert read["chunk_count"] == 0
    assert await _chunks(db_session, read["id"]) == []


async def test_a_damaged_word_document_inside_a_valid_zip_fails_with_a_reason(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><unclosed>")
    response = await _upload(client, headers, "bad.docx", buffer.getvalue())
    read = (await client.get(f"/documents/{response.json()['id']}", headers=headers)).json()
    assert (read["status"], read["failure_reason"]) == (
        "failed",
        "This Word file is damaged and cannot be read.",
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "unsupported_media_type"),
        (b"\xff\xfe\x00\x00 not utf-8 \xc3\x28", "unsupported_media_type"),
        (b"MZ\x90\x00\x03 an executable", "unsupported_media_type"),
    ],
)
async def test_anything_but_a_document_is_415_and_nothing_is_written(
    data: bytes,
    code: str,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    documents_dir: Path,
) -> None:
    user = await create_user(db_session)
    before, files = await snapshot(db_session), _files(documents_dir)
    # Named and typed like a PDF: only the bytes count.
    response = await _upload(client, auth_headers(codec, user), "x.pdf", data, "application/pdf")
    assert_error(response, 415, code)
    assert await snapshot(db_session) == before
    assert _files(documents_dir) == files


async def test_size_limits_and_quota_answer_413(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, documents_dir: Path
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    before, files = await snapshot(db_session), _files(documents_dir)

    too_large = await _upload(client, headers, "big.txt", b"a" * 300_001)
    assert_error(too_large, 413, "document_too_large")
    # Far past the limit, the body itself is refused before the route reads it.
    huge = await _upload(client, headers, "huge.txt", b"a" * 2_000_000)
    assert_error(huge, 413, "payload_too_large")
    bomb = await _upload(client, headers, "bomb.docx", zip_bomb_docx(8 * 1024 * 1024))
    assert_error(bomb, 413, "archive_too_large")
    crowded = await _upload(client, headers, "many.docx", many_entries_docx(60))
    assert_error(crowded, 413, "archive_too_large")
    assert await snapshot(db_session) == before
    assert _files(documents_dir) == files

    for n in range(2):
        ok = await _upload(client, headers, f"{n}.txt", b"word " * 55_000)
        assert ok.status_code == 202, ok.text
    over = await _upload(client, headers, "2.txt", b"word " * 55_000)
    body = assert_error(over, 413, "storage_quota_exceeded")
    assert body["details"]["used_bytes"] == 550_000
    assert await db_session.scalar(select(func.count()).select_from(Document)) == 2


async def test_empty_files_and_bad_fields_are_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    assert_error(await _upload(client, headers, "e.txt", b""), 422, "empty_document")
    assert_error(
        await _upload(client, headers, "t.txt", b"text", title="a\x00b"), 422, "validation_error"
    )
    assert_error(
        await client.post("/documents", headers=headers, data={"title": "no file"}),
        422,
        "validation_error",
    )


async def test_list_filters_and_delete_removes_file_and_chunks(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    documents_dir: Path,
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    course = await create_course(db_session, user.id, modules=1)
    headers = auth_headers(codec, user)
    linked = await _upload(
        client, headers, "a.md", b"# A\n\ntext a", course_id=str(course.id), tags=["exam"]
    )
    await _upload(client, headers, "b.md", b"# B\n\ntext b")
    await _upload(client, auth_headers(codec, other), "c.md", b"# C\n\ntext c")

    async def titles(**params: str) -> list[str]:
        response = await client.get("/documents", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert await titles() == ["b", "a"]
    assert await titles(course_id=str(course.id)) == ["a"]
    assert await titles(tag="EXAM") == ["a"]
    assert await titles(status="failed") == []
    first = await client.get("/documents", headers=headers, params={"limit": 1})
    assert first.json()["next_cursor"] is not None

    document_id = linked.json()["id"]
    stored = documents_dir / str(user.id) / document_id
    assert stored.is_file()
    assert (await client.delete(f"/documents/{document_id}", headers=headers)).status_code == 204
    assert not stored.exists()
    assert await _chunks(db_session, document_id) == []
    assert_error(await client.get(f"/documents/{document_id}", headers=headers), 404, "not_found")


async def test_linking_to_someone_elses_course_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    foreign = await create_course(db_session, other.id)
    response = await _upload(
        client, auth_headers(codec, user), "a.txt", b"text", course_id=str(foreign.id)
    )
    assert_error(response, 404, "not_found")
    assert await db_session.scalar(select(func.count()).select_from(Document)) == 0
