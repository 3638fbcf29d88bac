import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, IdMixin, TimestampMixin


class ScheduleBlock(IdMixin, TimestampMixin, Base):
    """A time block; with `rrule`, a series whose first occurrence is start_at..end_at.

    Times are stored in UTC with the zone they were planned in: recurrences expand in that zone,
    so a 09:00 class stays at 09:00 local across a DST change.
    """

    __tablename__ = "schedule_blocks"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("kind IN ('study', 'class', 'break', 'other')", name="kind"),
        Index("ix_schedule_blocks_user_id_start_at", "user_id", "start_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    rrule: Mapped[str | None] = mapped_column(Text)
    # Last instant any occurrence can end (NULL: unbounded series); lets range queries skip rows.
    series_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="SET NULL")
    )
    goal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("goals.id", ondelete="SET NULL"))

    exceptions: Mapped[list["ScheduleException"]] = relationship(
        back_populates="block", lazy="raise", cascade="all, delete-orphan"
    )


class ScheduleException(IdMixin, TimestampMixin, Base):
    """One occurrence of a series moved, retitled or cancelled."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (
        UniqueConstraint("block_id", "original_start", name="uq_schedule_exceptions_occurrence"),
        CheckConstraint(
            "cancelled OR (new_start IS NOT NULL AND new_end IS NOT NULL AND new_end > new_start)"
            " OR (new_start IS NULL AND new_end IS NULL)",
            name="valid_override",
        ),
    )

    block_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("schedule_blocks.id", ondelete="CASCADE")
    )
    original_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    new_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_title: Mapped[str | None] = mapped_column(String(200))

    block: Mapped[ScheduleBlock] = relationship(back_populates="exceptions", lazy="raise")
