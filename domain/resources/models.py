import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin
from core.search import weighted_tsvector
from domain.embeddings.models import EmbeddedMixin

RESOURCE_TYPES = ("article", "video", "book", "course", "exercise", "other")


class Resource(IdMixin, TimestampMixin, EmbeddedMixin, Base):
    __tablename__ = "resources"
    __table_args__ = (
        CheckConstraint(
            "type IN ('article', 'video', 'book', 'course', 'exercise', 'other')", name="type"
        ),
        CheckConstraint("source IN ('manual', 'ai')", name="source"),
        CheckConstraint(
            "embedding_status IN ('pending', 'ready', 'failed')", name="embedding_status"
        ),
        # NULL urls never collide; a user saving the same url twice does.
        Index("uq_resources_user_id_url", "user_id", "url", unique=True),
        Index("ix_resources_user_id_created_at", "user_id", "created_at"),
        Index("ix_resources_search", "search", postgresql_using="gin"),
        Index(
            "ix_resources_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
            # Above pgvector's defaults (16, 64): recall@10 0.96 -> 0.99 at the same query
            # latency, for a slower build (bench/RESULTS.md).
            postgresql_with={"m": 24, "ef_construction": 128},
        ),
        Index("ix_resources_tags", "tags", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2048))
    type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    recommendation_id: Mapped[uuid.UUID | None] = mapped_column()
    search: Mapped[str] = weighted_tsvector(("title", "A"), ("description", "B"), tags="tags")
