"""Columns every embedded (semantically searchable) table carries."""

from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.search import EMBEDDING_DIMENSIONS

EMBEDDING_STATUSES = ("pending", "ready", "failed")


class EmbeddedMixin:
    embedding: Mapped[list[float] | None] = mapped_column(
        Vector(EMBEDDING_DIMENSIONS), deferred=True
    )
    # Which model made the vector: searches only compare vectors of the current model.
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_status: Mapped[str] = mapped_column(String(16), default="pending")
    embedded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
