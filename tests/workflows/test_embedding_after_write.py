"""A note or resource written through the API is embedded by a worker (`embed-<table>-<id>`),
with Temporal's retries, a bounded number at once, and always from the row's last text."""

import asyncio
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus

from core.config import Settings
from core.security import TokenCodec
from domain.embeddings.runtime import EmbeddingRuntime
from domain.embeddings.text import embedding_text
from domain.notes.models import Note
from domain.resources.models import Resource
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.embeddings import HashingEmbedder
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually
from workflows.embeddings.inputs import row_workflow_id


class ScriptedEmbedder(HashingEmbedder):
    """Hashing vectors, with failures on cue, a delay per call, and a count of calls running at
    once."""

    def __init__(self, *, failures: int = 0, delay: float = 0.0) -> None:
        super().__init__()
        self.failures, self.delay = failures, delay
        self.attempts = 0
        self.running = self.most_at_once = 0
        self.release = asyncio.Event()
        self.release.set()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.attempts += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            await self.release.wait()
            if self.failures:
                self.failures -= 1
                raise ConnectionError("provider unreachable")
            return self.embed_documents(texts)
        finally:
            self.running -= 1


def _worker(
    settings: Settings, client: Client, embedder: ScriptedEmbedder
) -> AbstractAsyncContextManager[None]:
    return running_worker(settings, client, EmbeddingRuntime(embedder, TEST_EMBEDDING_MODEL))


async def _is_embedding_of(session: AsyncSession, note: Note) -> bool:
    """The stored vector (single precision) is the one of the row's text as it is now."""
    stored = await session.scalar(select(Note.embedding).where(Note.id == note.id))
    expected = HashingEmbedder().embed_documents([embedding_text(note)])[0]
    assert stored is not None
    return max(abs(a - b) for a, b in zip(stored, expected, strict=True)) < 1e-6


async def _row(session: AsyncSession, model: Any, row_id: Any) -> Any:
    session.expire_all()
    return await session.get(model, row_id, populate_existing=True)


async def _status_is(session: AsyncSession, model: Any, row_id: Any, status: str) -> Any:
    row = await _row(session, model, row_id)
    return row if row is not None and row.embedding_status == status else None


async def test_a_written_note_is_embedded_by_its_workflow(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    embedder = ScriptedEmbedder()
    async with _worker(temporal_settings, temporal_client, embedder):
        created = await workflow_client.post(
            "/notes",
            headers=auth_headers(codec, user),
            json={"title": "Osmosis", "body": "Water crosses the membrane."},
        )
        assert created.status_code == 201, created.text
        note_id = uuid.UUID(created.json()["id"])
        note = await eventually(lambda: _status_is(live_db, Note, note_id, "ready"))
        handle = temporal_client.get_workflow_handle(row_workflow_id("notes", note_id))
        await handle.result()
    assert note.embedding_model == TEST_EMBEDDING_MODEL
    assert await _is_embedding_of(live_db, note)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_a_failing_provider_is_retried_by_temporal(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    embedder = ScriptedEmbedder(failures=2)
    async with _worker(temporal_settings, temporal_client, embedder):
        created = await workflow_client.post(
            "/resources",
            headers=auth_headers(codec, user),
            json={"title": "Enzymes", "url": "https://example.com/enzymes", "type": "article"},
        )
        assert created.status_code == 201, created.text
        await eventually(
            lambda: _status_is(live_db, Resource, created.json()["id"], "ready"), within=30
        )
    assert embedder.attempts == 3


async def test_a_provider_that_keeps_failing_leaves_the_row_failed_not_pending(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    embedder = ScriptedEmbedder(failures=100)
    async with _worker(temporal_settings, temporal_client, embedder):
        created = await workflow_client.post(
            "/notes", headers=auth_headers(codec, user), json={"title": "Down", "body": "b"}
        )
        note_id = created.json()["id"]
        await eventually(lambda: _status_is(live_db, Note, note_id, "failed"), within=45)
    # Four attempts under the retry policy, then one last attempt that gives up.
    assert embedder.attempts == 5


async def test_no_more_embeddings_run_at_once_than_the_setting_allows(
    workflow_client_for: Any,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    settings = temporal_settings.model_copy(update={"embedding_concurrency": 1})
    client: httpx.AsyncClient = await workflow_client_for(settings)
    user = await create_user(live_db)
    embedder = ScriptedEmbedder(delay=0.4)
    async with _worker(settings, temporal_client, embedder):
        ids = []
        for n in range(3):
            created = await client.post(
                "/notes", headers=auth_headers(codec, user), json={"title": f"N{n}", "body": "b"}
            )
            ids.append(created.json()["id"])

        async def all_ready() -> bool:
            rows = [await _status_is(live_db, Note, note_id, "ready") for note_id in ids]
            return all(rows)

        await eventually(all_ready)
    assert (embedder.attempts, embedder.most_at_once) == (3, 1)


async def test_an_edit_during_the_embedding_is_embedded_too(
    workflow_client: httpx.AsyncClient,
    live_db: AsyncSession,
    codec: TokenCodec,
    temporal_settings: Settings,
    temporal_client: Client,
) -> None:
    user = await create_user(live_db)
    headers = auth_headers(codec, user)
    embedder = ScriptedEmbedder()
    embedder.release.clear()
    async with _worker(temporal_settings, temporal_client, embedder):
        created = await workflow_client.post(
            "/notes", headers=headers, json={"title": "Draft", "body": "first words"}
        )
        note_id = created.json()["id"]

        async def embedding_started() -> bool:
            return embedder.running == 1

        await eventually(embedding_started)
        edited = await workflow_client.patch(
            f"/notes/{note_id}", headers=headers, json={"body": "the words that count"}
        )
        assert edited.status_code == 200, edited.text
        embedder.release.set()
        note = await eventually(lambda: _status_is(live_db, Note, note_id, "ready"))
    assert note.body == "the words that count"
    # The first run's vector was refused (the row had changed); the second is of the edit.
    assert await _is_embedding_of(live_db, note)
    assert embedder.attempts == 2
