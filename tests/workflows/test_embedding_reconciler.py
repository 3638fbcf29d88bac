"""Rows left `pending` (their embedding after the write never ran) are embedded by the
reconciler's scheduled activity; fresh ones are left to their own run."""

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.config import Settings
from domain.embeddings.runtime import EmbeddingRuntime
from domain.notes.models import Note
from domain.resources.models import Resource
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.embeddings import HashingEmbedder
from tests.fixtures.factories.content import create_note, create_resource
from tests.fixtures.factories.users import create_user
from tests.fixtures.temporal import running_worker
from tests.workflows.waiting import eventually, trigger_when_made
from workflows.embeddings.inputs import SCHEDULE_ID
from workflows.reconciler_schedules import schedule_id


async def test_stale_pending_rows_are_embedded_by_the_scheduled_reconciler(
    live_db: AsyncSession, temporal_settings: Settings, temporal_client: Client
) -> None:
    user = await create_user(live_db)
    stale_note = await create_note(live_db, user.id, title="Osmosis")
    stale_resource = await create_resource(live_db, user.id)
    fresh_note = await create_note(live_db, user.id, title="Written just now")
    ids = (stale_note.id, stale_resource.id, fresh_note.id)
    for table, row_id in (("notes", ids[0]), ("resources", ids[1])):
        await live_db.execute(
            text(f"UPDATE {table} SET updated_at = now() - interval '1 hour' WHERE id = :id"),  # noqa: S608
            {"id": row_id},
        )
    await live_db.commit()

    runtime = EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL)
    async with running_worker(temporal_settings, temporal_client, runtime):
        await trigger_when_made(
            temporal_client, schedule_id(SCHEDULE_ID, temporal_settings.temporal_task_queue)
        )

        async def statuses() -> Any:
            live_db.expire_all()
            found: dict[Any, str] = {}
            for model in (Note, Resource):
                rows = await live_db.execute(select(model.id, model.embedding_status))
                found.update(dict(rows.tuples().all()))
            return found if found[ids[0]] == "ready" and found[ids[1]] == "ready" else None

        found = await eventually(statuses, within=30)
    assert found[ids[2]] == "pending"  # its own embedding run may still be under way
    live_db.expire_all()
    embedded = await live_db.get(Note, ids[0], populate_existing=True)
    assert embedded is not None
    assert embedded.embedding_model == TEST_EMBEDDING_MODEL
