import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin


class Summary(IdMixin, TimestampMixin, Base):
    __tablename__ = "summaries"
    __table_args__ = (
        CheckConstraint("subject_type IN ('note', 'course', 'document')", name="subject_type"),
        CheckConstraint("length IN ('short', 'medium', 'long')", name="length"),
        # One cached summary per exact input: same text, prompt and model give the same entry.
        Index(
            "uq_summaries_cache_key",
            "user_id",
            "subject_type",
            "subject_id",
            "length",
            "content_hash",
            "prompt_version",
            "model",
            unique=True,
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(16))
    # Not a foreign key: it points at a note or a course. Stale entries are never hit again,
    # because the subject's content hash changes with it.
    subject_id: Mapped[uuid.UUID] = mapped_column()
    length: Mapped[str] = mapped_column(String(8))
    content_hash: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
