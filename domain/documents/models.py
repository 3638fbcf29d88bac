import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin
from core.search import weighted_tsvector
from domain.embeddings.models import EmbeddedMixin

DOCUMENT_KINDS = ("pdf", "docx", "html", "markdown", "text")
DOCUMENT_STATUSES = ("processing", "ready", "failed")


class Document(IdMixin, TimestampMixin, Base):
    """An uploaded (or fetched) file. `status` is `processing` until its chunks are stored in one
    transaction (`ready`), or extraction gave up (`failed`, with `failure_reason`)."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("kind IN ('pdf', 'docx', 'html', 'markdown', 'text')", name="kind"),
        CheckConstraint("status IN ('processing', 'ready', 'failed')", name="status"),
        Index("ix_documents_user_id_created_at", "user_id", "created_at"),
        Index("ix_documents_tags", "tags", postgresql_using="gin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    module_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course_modules.id", ondelete="SET NULL")
    )
    # The resource a fetched page came from (`POST /resources` with `ingest`).
    resource_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("resources.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    # Sniffed from the bytes, never taken from the client.
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="processing")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DocumentChunk(IdMixin, TimestampMixin, EmbeddedMixin, Base):
    """A passage of a document's extracted text: where it is (page, heading path, character span
    in the extracted text) and its vector, made by the current embedding model as notes' are."""

    __tablename__ = "document_chunks"
    __table_args__ = (
        UniqueConstraint("document_id", "position"),
        CheckConstraint(
            "embedding_status IN ('pending', 'ready', 'failed')", name="embedding_status"
        ),
        CheckConstraint("char_start >= 0 AND char_end > char_start", name="char_span"),
        Index("ix_document_chunks_user_id", "user_id"),
        Index("ix_document_chunks_search", "search", postgresql_using="gin"),
        Index(
            "ix_document_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
            postgresql_with={"m": 24, "ef_construction": 128},
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    # The document's owner, kept on each chunk: searches filter chunks without a join.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer)
    headings: Mapped[list[str]] = mapped_column(ARRAY(String(300)), default=list)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    search: Mapped[str] = weighted_tsvector(("text", "B"), tags="headings")
