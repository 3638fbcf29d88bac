import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin
from core.search import weighted_tsvector
from domain.embeddings.models import EmbeddedMixin


class Note(IdMixin, TimestampMixin, EmbeddedMixin, Base):
    __tablename__ = "notes"
    __table_args__ = (
        CheckConstraint(
            "embedding_status IN ('pending', 'ready', 'failed')", name="embedding_status"
        ),
        Index("ix_notes_user_id_created_at", "user_id", "created_at"),
        Index("ix_notes_search", "search", postgresql_using="gin"),
        Index(
            "ix_notes_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
            # Above pgvector's defaults (16, 64): recall@10 0.96 -> 0.99 at the same query
            # latency, for a slower build (bench/RESULTS.md).
            postgresql_with={"m": 24, "ef_construction": 128},
        ),
        Index("ix_notes_tags", "tags", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    module_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course_modules.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    search: Mapped[str] = weighted_tsvector(("title", "A"), ("body", "B"), tags="tags")
