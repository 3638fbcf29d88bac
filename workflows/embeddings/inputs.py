import uuid
from typing import Literal

from pydantic import BaseModel

SCHEDULE_ID = "embedding-reconciler"

# The tables a write asks embeddings for; document chunks embed in the extraction workers.
EmbeddedTable = Literal["notes", "resources"]


def row_workflow_id(table: EmbeddedTable, row_id: uuid.UUID) -> str:
    return f"embed-{table}-{row_id}"


def embedding_task_queue(task_queue: str) -> str:
    """Embedding activities get a queue of their own, so a bounded number run at once per
    worker (the local model is CPU-bound) without limiting reminders and plans."""
    return f"{task_queue}-embeddings"


class EmbedRow(BaseModel):
    table: EmbeddedTable
    row_id: uuid.UUID
    # The last attempt after Temporal's retries: a provider failure marks the row `failed`
    # (for `studypilot reembed`) instead of raising again.
    give_up: bool = False


class EmbedStale(BaseModel):
    # A row written this long ago and still `pending` has lost its embedding run.
    older_than_seconds: float = 300.0
    # Rows per table per run: bounded work (and memory) per activity.
    batch_size: int = 64


class EmbedStaleResult(BaseModel):
    embedded: int
