"""The port through which a write asks for its rows' embeddings, once it has committed.

The implementation is a Temporal workflow per row (`workflows/embeddings/client.py`): a worker
embeds with bounded concurrency and Temporal's retries. A request that is lost (the process
died before starting it) leaves the row `pending`, and the reconciler embeds it: the database
stays the truth.
"""

import uuid
from typing import Protocol

from domain.embeddings.text import EmbeddedModel


class EmbeddingQueue(Protocol):
    async def embed(self, model: EmbeddedModel, row_id: uuid.UUID) -> None:
        """Have the row embedded again: its text changed (or it is new)."""
        ...
