import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, IdMixin, TimestampMixin


class StudyPlan(IdMixin, TimestampMixin, Base):
    __tablename__ = "study_plans"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'accepted', 'cancelled')", name="status"),
        CheckConstraint("goal_id IS NOT NULL OR course_id IS NOT NULL", name="subject"),
        CheckConstraint("drafted_by IN ('model', 'fallback')", name="drafted_by"),
        Index("ix_study_plans_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("goals.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    timezone: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    # The scheduler's proof, re-derived from the slots: minutes placed vs needed, no overlaps,
    # inside available hours, before the deadline, and what did not fit.
    fits: Mapped[bool] = mapped_column(Boolean)
    proof: Mapped[dict[str, Any]] = mapped_column(JSONB)
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(200))
    # "fallback" when the model's draft could not be used and the sessions were drafted from
    # the course's modules and the work left instead; `fallback_reason` says why.
    drafted_by: Mapped[str] = mapped_column(String(16), default="model", server_default="model")
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # False: a re-plan after missed sessions is proposed (`PlanReplanProposal`), not applied.
    auto_replan: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    sessions: Mapped[list["PlanSession"]] = relationship(
        order_by="PlanSession.position", lazy="raise", cascade="all, delete-orphan"
    )


class PlanSession(IdMixin, Base):
    """One session the model chose, in study order, with the slots the scheduler gave it."""

    __tablename__ = "plan_sessions"
    __table_args__ = (CheckConstraint("minutes > 0", name="minutes_positive"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("study_plans.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str] = mapped_column(Text)
    module_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("course_modules.id", ondelete="SET NULL")
    )
    minutes: Mapped[int] = mapped_column(Integer)
    # [{part, starts_at, ends_at, schedule_block_id}]; empty when it did not fit.
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class PlanReplanProposal(IdMixin, Base):
    """A re-plan of a plan with `auto_replan` off: computed, not applied, until the student
    accepts it. A newer proposal or progress on the goal supersedes it."""

    __tablename__ = "plan_replan_proposals"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'applied', 'superseded')", name="status"),
        CheckConstraint("replanned_by IN ('agent', 'scheduler')", name="replanned_by"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("study_plans.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # "agent": the plan agent redrafted what is left; "scheduler": the owed sessions as they were.
    replanned_by: Mapped[str] = mapped_column(String(16))
    # What changed and why, as the student's notification says it.
    summary: Mapped[str] = mapped_column(Text)
    # The plan's blocks the proposal replaces (the missed sittings and those then ahead).
    replaced_block_ids: Mapped[list[str]] = mapped_column(JSONB)
    # [ProposedSession] with their slots, and the scheduler's proof of them.
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    proof: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
