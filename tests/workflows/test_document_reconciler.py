"""Uploads left `processing` (their process died after the upload) are processed again by the
document reconciler's scheduled activity; fresh ones are left to their own run."""

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.config import Settings
from domain.documents.models import Document
from domain.documents.storage import document_storage
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.embeddings import HashingEmbedder
from tests.fixtures.factories.users import create_user
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually, trigger_when_made
from workflows.documents.inputs import SCHEDULE_ID
from workflows.reconciler_schedules import schedule_id


async def _upload_left_processing(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, text_on_page: str
) -> uuid.UUID:
    data = pdf_bytes([text_on_page])
    document_id = uuid.uuid4()
    document = Document(
        id=document_id,
        user_id=user_id,
        title="Left behind",
        tags=[],
        filename="doc.pdf",
        kind="pdf",
        content_type="application/pdf",
        size_bytes=len(data),
        sha256="0" * 64,
        storage_key=f"{user_id}/{document_id}",
        status="processing",
        chunk_count=0,
    )
    await document_storage(settings).put(document.storage_key, data)
    session.add(document)
    await session.commit()
    return document_id


async def test_uploads_left_processing_are_processed_by_the_scheduled_reconciler(
    live_db: AsyncSession, temporal_settings: Settings, temporal_client: Client
) -> None:
    user_id = (await create_user(live_db)).id
    stuck = await _upload_left_processing(live_db, temporal_settings, user_id, "Osmosis.")
    fresh = await _upload_left_processing(live_db, temporal_settings, user_id, "Just now.")
    await live_db.execute(
        text("UPDATE documents SET updated_at = now() - interval '1 hour' WHERE id = :id"),
        {"id": stuck},
    )
    await live_db.commit()

    runtime = EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL)
    async with running_worker(temporal_settings, temporal_client, runtime):
        await trigger_when_made(
            temporal_client, schedule_id(SCHEDULE_ID, temporal_settings.temporal_task_queue)
        )

        async def statuses() -> Any:
            live_db.expire_all()
            rows = await live_db.execute(
                select(Document.id, Document.status, Document.chunk_count).where(
                    Document.user_id == user_id
                )
            )
            found = {row.id: (row.status, row.chunk_count) for row in rows}
            return found if found[stuck][0] == "ready" else None

        found = await eventually(statuses, within=60)
    assert found[stuck] == ("ready", 1)
    assert found[fresh] == ("processing", 0)
