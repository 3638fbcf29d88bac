import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin


class Goal(IdMixin, TimestampMixin, Base):
    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused', 'completed', 'abandoned')", name="status"),
        # A goal measures time or modules, not both.
        CheckConstraint("target_minutes IS NULL OR target_modules IS NULL", name="one_target"),
        CheckConstraint("target_minutes IS NULL OR target_minutes > 0", name="target_minutes"),
        CheckConstraint("target_modules IS NULL OR target_modules > 0", name="target_modules"),
        Index("ix_goals_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    target_date: Mapped[date | None] = mapped_column(Date)
    target_minutes: Mapped[int | None] = mapped_column(Integer)
    target_modules: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GoalProgressEvent(IdMixin, Base):
    __tablename__ = "goal_progress_events"
    __table_args__ = (
        # A retried POST with the same Idempotency-Key finds the first event instead.
        UniqueConstraint("goal_id", "idempotency_key", name="uq_goal_progress_events_idempotency"),
        CheckConstraint("minutes >= 0", name="minutes"),
        CheckConstraint("modules_completed >= 0", name="modules_completed"),
        Index("ix_goal_progress_events_goal_id_occurred_at", "goal_id", "occurred_at"),
    )

    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    modules_completed: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # Digest of the request body: the same key with a different body is a client error.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
