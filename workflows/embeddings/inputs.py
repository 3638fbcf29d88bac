from pydantic import BaseModel

SCHEDULE_ID = "embedding-reconciler"


class EmbedStale(BaseModel):
    # A row written this long ago and still `pending` has lost its embedding run.
    older_than_seconds: float = 300.0
    # Rows per table per run: bounded work (and memory) per activity.
    batch_size: int = 64


class EmbedStaleResult(BaseModel):
    embedded: int
