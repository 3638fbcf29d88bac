"""`process_document`, the one entry point a workflow activity calls: idempotent, one
transaction per outcome, no connection held while extracting or embedding."""

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import psutil
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams
from domain.documents.models import Document, DocumentChunk
from domain.documents.processing import (
    DocumentRuntime,
    ExtractionPool,
    process_document,
    reprocess_stuck,
)
from domain.embeddings.embedder import LocalEmbedder, UnconfiguredEmbedder
from domain.embeddings.service import embed_query
from domain.embeddings.text import chunk_text
from domain.search.ranking import SearchQuery, search_page
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.embeddings import FailingEmbedder
from tests.fixtures.factories.users import create_user


def _runtime(app: FastAPI, **changes: object) -> DocumentRuntime:
    state = app.state
    values: dict[str, object] = {
        "sessionmaker": state.sessionmaker,
        "storage": state.document_storage,
        "embedder": state.embedder,
        "model_id": state.embedding_model_id,
        "pool": state.extraction_pool,
        "extraction_limits": state.extraction_limits,
        "upload_limits": state.upload_limits,
    }
    values.update(changes)
    return DocumentRuntime(**values)  # type: ignore[arg-type]


async def _stored(
    app: FastAPI, session: AsyncSession, data: bytes, *, kind: str = "pdf"
) -> Document:
    user = await create_user(session)
    document_id = uuid.uuid4()
    document = Document(
        id=document_id,
        user_id=user.id,
        title="Doc",
        tags=[],
        filename="doc.pdf",
        kind=kind,
        content_type="application/pdf",
        size_bytes=len(data),
        sha256="0" * 64,
        storage_key=f"{user.id}/{document_id}",
        status="processing",
        chunk_count=0,
    )
    await app.state.document_storage.put(document.storage_key, data)
    session.add(document)
    await session.commit()
    return document


async def _chunks(session: AsyncSession, document_id: uuid.UUID) -> list[DocumentChunk]:
    result = await session.execute(
        select(DocumentChunk)
        .where(DocumentChunk.document_id == document_id)
        .order_by(DocumentChunk.position)
        .execution_options(populate_existing=True)
    )
    return list(result.scalars())


async def test_processing_again_replaces_the_chunks_of_the_earlier_run(
    app: FastAPI, db_session: AsyncSession
) -> None:
    document = await _stored(app, db_session, pdf_bytes(["First edition of page one."]))
    runtime = _runtime(app)
    assert await process_document(document.id, runtime) == "ready"
    first = {chunk.id for chunk in await _chunks(db_session, document.id)}

    # The file changes under the same key (a re-upload, a repaired file): a new run replaces.
    await runtime.storage.put(
        document.storage_key, pdf_bytes(["Second edition, page one.", "And a page two."])
    )
    assert await process_document(document.id, runtime) == "ready"

    chunks = await _chunks(db_session, document.id)
    assert [c.page for c in chunks] == [1, 2]
    assert first.isdisjoint({c.id for c in chunks})
    assert "Second edition" in chunks[0].text
    await db_session.refresh(document)
    assert (document.status, document.chunk_count, document.page_count) == ("ready", 2, 2)


async def test_a_run_that_fails_leaves_no_chunks_of_an_earlier_version(
    app: FastAPI, db_session: AsyncSession
) -> None:
    document = await _stored(app, db_session, pdf_bytes(["Readable."]))
    runtime = _runtime(app)
    await process_document(document.id, runtime)
    await runtime.storage.put(document.storage_key, b"%PDF-1.7 truncated")

    assert await process_document(document.id, runtime) == "failed"

    assert await _chunks(db_session, document.id) == []
    await db_session.refresh(document)
    assert document.status == "failed"
    assert document.failure_reason is not None
    assert "damaged" in document.failure_reason


async def test_a_missing_file_or_a_gone_document_is_handled(
    app: FastAPI, db_session: AsyncSession
) -> None:
    document = await _stored(app, db_session, pdf_bytes(["x"]))
    runtime = _runtime(app)
    await runtime.storage.delete(document.storage_key)
    assert await process_document(document.id, runtime) == "failed"
    assert await process_document(uuid.uuid4(), runtime) is None


async def test_without_an_embedding_provider_chunks_stay_pending_and_text_searchable(
    app: FastAPI, db_session: AsyncSession
) -> None:
    document = await _stored(app, db_session, pdf_bytes(["Photosynthesis makes sugar."]))
    runtime = _runtime(app, embedder=UnconfiguredEmbedder("no provider"))
    assert await process_document(document.id, runtime) == "ready"
    chunks = await _chunks(db_session, document.id)
    assert [c.embedding_status for c in chunks] == ["pending"]
    hits, _ = await search_page(
        db_session,
        DocumentChunk,
        [DocumentChunk.user_id == document.user_id],
        SearchQuery(text="photosynthesis"),
        PageParams(),
    )
    assert [row.id for row, _ in hits] == [chunks[0].id]


async def test_a_failing_provider_marks_chunks_failed_and_the_document_stays_ready(
    app: FastAPI, db_session: AsyncSession
) -> None:
    document = await _stored(app, db_session, pdf_bytes(["Krebs cycle."]))
    runtime = _runtime(app, embedder=FailingEmbedder())
    assert await process_document(document.id, runtime) == "ready"
    assert [c.embedding_status for c in await _chunks(db_session, document.id)] == ["failed"]

    # And the vectors a working provider stores are found by meaning.
    assert await process_document(document.id, _runtime(app)) == "ready"
    chunks = await _chunks(db_session, document.id)
    assert [c.embedding_status for c in chunks] == ["ready"]
    vector = await embed_query(app.state.embedder, app.state.embedding_model_id, "Krebs cycle")
    hits, _ = await search_page(
        db_session,
        DocumentChunk,
        [DocumentChunk.user_id == document.user_id],
        SearchQuery(vector=vector, model_id=app.state.embedding_model_id),
        PageParams(),
    )
    assert [row.id for row, _ in hits] == [chunks[0].id]


async def test_a_document_read_too_slowly_fails_and_the_pool_recovers(
    app: FastAPI, db_session: AsyncSession
) -> None:
    pages = [f"Page {n}: " + "glycolysis and the citric acid cycle " * 40 for n in range(40)]
    document = await _stored(app, db_session, pdf_bytes(pages))
    # Starting a worker alone takes longer than this.
    hurried = ExtractionPool(workers=1, timeout_seconds=0.05)
    try:
        assert await process_document(document.id, _runtime(app, pool=hurried)) == "failed"
        await db_session.refresh(document)
        assert document.failure_reason is not None
        assert "longer than 0.05 seconds" in document.failure_reason
        # The killed worker's pool is replaced: the next document is read.
        hurried.timeout_seconds = 120
        assert await process_document(document.id, _runtime(app, pool=hurried)) == "ready"
    finally:
        hurried.shutdown()


async def test_the_local_model_embeds_passages_in_the_worker_process(
    app: FastAPI, db_session: AsyncSession
) -> None:
    """The real all-MiniLM-L6-v2, loaded in the worker: the vectors are the ones the model makes
    in this process, stored under the local model's id."""
    document = await _stored(app, db_session, pdf_bytes(["Mitochondria produce ATP."]))
    local = LocalEmbedder()
    pool = ExtractionPool(workers=1, timeout_seconds=120)
    try:
        runtime = _runtime(app, embedder=local, model_id="local:test", pool=pool)
        assert await process_document(document.id, runtime) == "ready"
    finally:
        pool.shutdown()
    (chunk,) = await _chunks(db_session, document.id)
    assert (chunk.embedding_status, chunk.embedding_model) == ("ready", "local:test")
    stored = await db_session.scalar(
        select(DocumentChunk.embedding).where(DocumentChunk.id == chunk.id)
    )
    assert stored is not None
    expected = local.embed_documents([chunk_text(chunk.headings, chunk.text)])[0]
    similarity = sum(float(a) * b for a, b in zip(stored, expected, strict=True))
    assert similarity > 0.999


async def test_documents_left_processing_are_reprocessed_and_fresh_ones_left_alone(
    app: FastAPI, db_session: AsyncSession
) -> None:
    stuck = await _stored(app, db_session, pdf_bytes(["Left behind by a restart."]))
    fresh = await _stored(app, db_session, pdf_bytes(["Being processed right now."]))
    await db_session.execute(
        update(Document)
        .where(Document.id == stuck.id)
        .values(updated_at=datetime.now(UTC) - timedelta(hours=1))
    )
    await db_session.commit()

    outcomes = await reprocess_stuck(_runtime(app), timedelta(minutes=15))

    assert outcomes == {"ready": 1}
    await db_session.refresh(stuck)
    await db_session.refresh(fresh)
    assert (stuck.status, fresh.status) == ("ready", "processing")


_ORPHAN_SCRIPT = """
import asyncio, time
from pathlib import Path
from domain.documents.processing import ExtractionPool
pool = ExtractionPool(workers=1, timeout_seconds=60)
asyncio.run(pool.warm_up(Path("no-such-model")))  # starts the worker; the load itself fails
print("ready", flush=True)
time.sleep(600)
"""


def test_extraction_workers_end_when_their_process_is_killed() -> None:
    parent = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        # Its log lines (the failed model load) come first.
        assert "ready" in (line.strip() for line in parent.stdout)
        workers = [
            p
            for p in psutil.Process(parent.pid).children()
            if "--multiprocessing-fork" in p.cmdline()
        ]
        assert len(workers) == 1
        parent.kill()  # no shutdown of its pool: the worker is orphaned
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert (len(gone), alive) == (1, [])
    finally:
        parent.kill()
