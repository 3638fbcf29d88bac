import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin


class Conversation(IdMixin, TimestampMixin, Base):
    """Ownership and state of one chat thread; its messages live in LangGraph's checkpoints."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    # The checkpoint after the last turn that completed. A failed turn leaves checkpoints behind
    # that nothing points to, so the thread reads as if the turn never happened.
    head_checkpoint_id: Mapped[str | None] = mapped_column(String(64))
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set while a turn runs: a second message meanwhile is 409 run_in_progress.
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
