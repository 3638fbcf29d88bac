"""`EmbeddingQueue` on Temporal: what the API calls after a note or resource write."""

import uuid

from temporalio.client import Client

from domain.embeddings.text import EmbeddedModel
from domain.notes.models import Note
from domain.resources.models import Resource
from workflows.embeddings.inputs import EmbeddedTable, EmbedRow, row_workflow_id
from workflows.embeddings.workflow import EmbedRowWorkflow

_TABLES: dict[EmbeddedModel, EmbeddedTable] = {Note: "notes", Resource: "resources"}


class TemporalEmbeddingQueue:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client, self.task_queue = client, task_queue

    async def embed(self, model: EmbeddedModel, row_id: uuid.UUID) -> None:
        """Signal-with-start: starts the row's workflow, or tells the running one the text
        changed. Needs no worker to be up: the server records it for the next one."""
        table = _TABLES[model]
        await self.client.start_workflow(
            EmbedRowWorkflow.run,
            EmbedRow(table=table, row_id=row_id),
            id=row_workflow_id(table, row_id),
            task_queue=self.task_queue,
            start_signal="changed",
        )
