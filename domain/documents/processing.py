"""Processing a document: extract and chunk (in a worker process), store the chunks, embed them.

`process_document(document_id, runtime)` is the one entry point: the API runs it as an
in-process task after an upload commits, and a workflow activity can call it as it is. It is
idempotent: every run re-extracts the stored file and replaces the document's chunks in one
transaction, so a document is never half-indexed. No database connection is held while
extracting or embedding (read, release, work, write in a new short unit of work); a crash
mid-way leaves the document `processing`, for a later run.

The document is `ready` (searchable by text) once its chunks are stored, and each chunk becomes
searchable by meaning once embedded, as notes are: by the current model, `studypilot reembed`
covering any chunk it missed. The local model embeds passages in the worker process too (see
`worker.py`); remote providers are called from here.
"""

import asyncio
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from langchain_core.embeddings import Embeddings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.db import unit_of_work
from core.events import queue_event
from domain.documents.extraction import Extracted, ExtractionError, ExtractionLimits, extract
from domain.documents.models import Document, DocumentChunk
from domain.documents.repository import DocumentRepository
from domain.documents.service import UploadLimits, document_event
from domain.documents.sniff import ZipLimits
from domain.documents.storage import (
    DocumentStorage,
    StoredFileMissingError,
    document_storage,
)
from domain.documents.worker import embed_locally, exit_with_parent, load_locally
from domain.embeddings.embedder import EmbeddingsNotConfiguredError, LocalEmbedder
from domain.embeddings.repository import EmbeddingRepository
from domain.embeddings.service import check_dimensions
from domain.embeddings.text import chunk_text

logger = structlog.get_logger("studypilot.documents")

# Chunks per embedding call and per write: bounded memory and short transactions.
EMBED_BATCH_SIZE = 64


class ExtractionPool:
    """Worker processes for extraction: parsing a PDF is pure-Python CPU work that would hold
    the API process's GIL (and its event loop) for seconds. A file that takes longer than
    `timeout_seconds`, or kills its worker (memory), ends `failed`; the pool is replaced."""

    def __init__(self, workers: int, timeout_seconds: float) -> None:
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a forked child would inherit the parent's threads and event loop state.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def extract(self, path: str, kind: str, limits: ExtractionLimits) -> Extracted:
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool(), extract, path, kind, limits)
        try:
            return await asyncio.wait_for(work, self.timeout_seconds)
        except TimeoutError as exc:
            self.shutdown(kill=True)
            raise ExtractionError(
                f"Reading this document took longer than {self.timeout_seconds:g} seconds."
            ) from exc
        except BrokenProcessPool as exc:
            self.shutdown(kill=True)
            raise ExtractionError("Reading this document took more memory than allowed.") from exc

    async def embed_locally(self, model_dir: Path | None, texts: list[str]) -> list[list[float]]:
        """The local model's vectors, computed in a worker (see `domain/documents/worker.py`).
        Failures raise as the model's own would; the caller marks the chunks failed."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool(), embed_locally, model_dir, texts)
        try:
            return await asyncio.wait_for(work, self.timeout_seconds)
        except (TimeoutError, BrokenProcessPool):
            self.shutdown(kill=True)
            raise

    async def warm_up(self, model_dir: Path | None) -> None:
        """Start a worker and load the local model in it. Never raises: a failure shows again
        on first use."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool(), load_locally, model_dir)
        except Exception:
            logger.exception("extraction worker warm-up failed")

    def shutdown(self, *, kill: bool = False) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if kill:
            # The executor cannot cancel a running task; its workers are ended instead (a pool
            # shared by several documents loses their work too: they stay `processing`).
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class DocumentRuntime:
    """What processing and uploads need, built once per process."""

    sessionmaker: async_sessionmaker[AsyncSession]
    storage: DocumentStorage
    embedder: Embeddings
    model_id: str
    pool: ExtractionPool
    extraction_limits: ExtractionLimits
    upload_limits: UploadLimits


def create_document_runtime(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    embedder: Embeddings,
    model_id: str,
    pool: ExtractionPool | None = None,
) -> DocumentRuntime:
    """A runtime from the settings, for entry points outside the API (the CLI, an activity)."""
    extraction_limits, upload_limits = limits_from(settings)
    return DocumentRuntime(
        sessionmaker=sessionmaker,
        storage=document_storage(settings),
        embedder=embedder,
        model_id=model_id,
        pool=pool
        or ExtractionPool(settings.document_workers, settings.document_extraction_timeout_seconds),
        extraction_limits=extraction_limits,
        upload_limits=upload_limits,
    )


async def reprocess_stuck(runtime: DocumentRuntime, older_than: timedelta) -> dict[str, int]:
    """Run `process_document` again for every document still `processing` after `older_than`
    (its run died with its process); returns how many ended in each status."""
    async with unit_of_work(runtime.sessionmaker) as session:
        stuck = await DocumentRepository(session).stuck(datetime.now(UTC) - older_than)
    outcomes: dict[str, int] = {}
    for document_id in stuck:
        status = await process_document(document_id, runtime) or "gone"
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


def limits_from(settings: Settings) -> tuple[ExtractionLimits, UploadLimits]:
    zip_limits = ZipLimits(
        max_unzipped_bytes=settings.document_max_unzipped_bytes,
        max_entries=settings.document_max_zip_entries,
    )
    return (
        ExtractionLimits(
            max_pages=settings.document_max_pages,
            max_chars=settings.document_max_chars,
            zip=zip_limits,
        ),
        UploadLimits(
            max_bytes=settings.document_max_bytes,
            quota_bytes=settings.document_quota_bytes,
            zip=zip_limits,
        ),
    )


async def process_document(document_id: uuid.UUID, runtime: DocumentRuntime) -> str | None:
    """Extract, chunk, store and embed one document; returns its final status (None when the
    document is gone). Extraction failures end as `failed` with a reason; anything else raises,
    leaving the document `processing` for a retry."""
    async with unit_of_work(runtime.sessionmaker) as session:
        document = await DocumentRepository(session).get_any(document_id)
        if document is None:
            return None
        key, kind = document.storage_key, document.kind
    try:
        async with runtime.storage.local_path(key) as path:
            extracted = await runtime.pool.extract(str(path), kind, runtime.extraction_limits)
    except ExtractionError as exc:
        return await _finish_failed(runtime, document_id, exc.reason)
    except StoredFileMissingError:
        return await _finish_failed(
            runtime, document_id, "The stored file is missing; upload the document again."
        )
    status = await _store_chunks(runtime, document_id, extracted)
    if status == "ready":
        await _embed_chunks(runtime, document_id)
    return status


async def _store_chunks(
    runtime: DocumentRuntime, document_id: uuid.UUID, extracted: Extracted
) -> str | None:
    async with unit_of_work(runtime.sessionmaker) as session:
        documents = DocumentRepository(session)
        document = await documents.get_any(document_id, lock="update")
        if document is None:
            return None
        rows = [
            {
                "id": uuid.uuid4(),
                "document_id": document.id,
                "user_id": document.user_id,
                "position": chunk.position,
                "text": chunk.text,
                "page": chunk.page,
                "headings": list(chunk.headings),
                "char_start": chunk.char_start,
                "char_end": chunk.char_end,
                "embedding_status": "pending",
            }
            for chunk in extracted.chunks
        ]
        await documents.replace_chunks(document.id, rows)
        _mark(document, "ready", None)
        document.page_count = extracted.page_count
        document.chunk_count = len(rows)
        await session.flush()
        await session.refresh(document)
        queue_event(session, document_event(document))
    logger.info("document ready", document_id=str(document_id), chunks=len(rows))
    return "ready"


async def _finish_failed(
    runtime: DocumentRuntime, document_id: uuid.UUID, reason: str
) -> str | None:
    async with unit_of_work(runtime.sessionmaker) as session:
        documents = DocumentRepository(session)
        document = await documents.get_any(document_id, lock="update")
        if document is None:
            return None
        # A failed re-run must not leave the chunks of an earlier version searchable.
        await documents.replace_chunks(document.id, [])
        _mark(document, "failed", reason)
        document.chunk_count = 0
        await session.flush()
        await session.refresh(document)
        queue_event(session, document_event(document))
    logger.info("document failed", document_id=str(document_id), reason=reason)
    return "failed"


def _mark(document: Document, status: str, reason: str | None) -> None:
    document.status = status
    document.failure_reason = reason
    document.processed_at = datetime.now(UTC)


async def _embed_chunks(runtime: DocumentRuntime, document_id: uuid.UUID) -> None:
    """Batch by batch: read the chunks, release the connection, embed, store. Chunks replaced by
    a newer run meanwhile are simply not found by the version-guarded writes."""
    after = -1
    while True:
        async with unit_of_work(runtime.sessionmaker) as session:
            chunks = await DocumentRepository(session).chunk_batch(
                document_id, after=after, limit=EMBED_BATCH_SIZE
            )
            batch = [(c.id, c.updated_at, chunk_text(c.headings, c.text)) for c in chunks]
        if not batch:
            return
        after = chunks[-1].position
        texts = [text for _, _, text in batch]
        try:
            if isinstance(runtime.embedder, LocalEmbedder):
                vectors = await runtime.pool.embed_locally(runtime.embedder.model_dir, texts)
            else:
                vectors = await runtime.embedder.aembed_documents(texts)
            if len(vectors) != len(batch):
                raise ValueError(f"{len(vectors)} vectors for {len(batch)} texts")
            check_dimensions(vectors)
        except EmbeddingsNotConfiguredError:
            # Left pending: `studypilot reembed` embeds them once a provider is configured.
            return
        except Exception:
            # Broad on purpose, as for notes: the document stays readable by text.
            logger.exception("document embedding failed", document_id=str(document_id))
            async with unit_of_work(runtime.sessionmaker) as session:
                if await DocumentRepository(session).get_any(document_id, lock="share") is None:
                    return
                rows = EmbeddingRepository(session)
                for chunk_id, updated_at, _ in batch:
                    await rows.mark_failed(DocumentChunk, chunk_id, updated_at)
            continue
        async with unit_of_work(runtime.sessionmaker) as session:
            # Shared lock on the document: a delete (which locks it for update) waits for this
            # write, or this finds it gone, instead of the two deadlocking over the chunks.
            if await DocumentRepository(session).get_any(document_id, lock="share") is None:
                return
            rows = EmbeddingRepository(session)
            for (chunk_id, updated_at, _), vector in zip(batch, vectors, strict=True):
                await rows.store(DocumentChunk, chunk_id, updated_at, vector, runtime.model_id)


async def process_in_background(document_id: uuid.UUID, runtime: DocumentRuntime) -> None:
    """`process_document` for FastAPI's BackgroundTasks: never raises, since nobody is left to
    answer once the response is sent; the document stays `processing` for a later run."""
    try:
        await process_document(document_id, runtime)
    except Exception:
        logger.exception("document processing failed", document_id=str(document_id))
