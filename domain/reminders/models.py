import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin


class Reminder(IdMixin, TimestampMixin, Base):
    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint("channel IN ('in_app')", name="channel"),
        CheckConstraint("status IN ('pending', 'sent', 'cancelled')", name="status"),
        CheckConstraint("schedule_block_id IS NULL OR goal_id IS NULL", name="one_subject"),
        Index("ix_reminders_user_id_created_at", "user_id", "created_at"),
        # What the delivery workflow scans: due, still pending.
        Index(
            "ix_reminders_pending_remind_at",
            "remind_at",
            postgresql_where="status = 'pending'",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text)
    schedule_block_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedule_blocks.id", ondelete="CASCADE")
    )
    goal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16), default="in_app")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
