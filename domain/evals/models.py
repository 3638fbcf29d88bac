"""Eval runs and their per-case results, kept so two runs can be compared later."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin


class EvalRun(IdMixin, Base):
    __tablename__ = "eval_runs"
    __table_args__ = (
        CheckConstraint("mode IN ('scripted', 'live')", name="mode"),
        CheckConstraint("status IN ('running', 'finished', 'failed')", name="status"),
        Index("ix_eval_runs_created_at_id", "created_at", "id"),
    )

    suite: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    judge: Mapped[str | None] = mapped_column(String(200))
    # Prompt name -> the ref it ran with, e.g. {"chat/system": "chat/system@v2"}.
    prompts: Mapped[dict[str, str]] = mapped_column(JSONB)
    repeats: Mapped[int] = mapped_column(Integer)
    case_filter: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(200))
    cases: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    gate_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalResult(IdMixin, Base):
    __tablename__ = "eval_results"
    __table_args__ = (UniqueConstraint("run_id", "case_id", "repeat"),)

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    gates_passed: Mapped[bool] = mapped_column(Boolean)
    # Mean of the soft scores, 0..1; null when the case has none.
    soft_score: Mapped[float | None] = mapped_column(Float)
    # Every scorer's verdict: [{name, kind, passed, value, explanation}].
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    prompt_versions: Mapped[list[str]] = mapped_column(JSONB)
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(2000))
    # What was asked, what the model was sent and said, what the agent answered.
    transcript: Mapped[dict[str, Any]] = mapped_column(JSONB)
