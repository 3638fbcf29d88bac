from datetime import time
from typing import Any

from sqlalchemy import CheckConstraint, String, Time
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('student', 'admin')", name="role"),)

    # Stored normalised (lower-cased), so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    study_preferences: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default="{}"
    )
    # Scheduled agent jobs (docs/workflows.md), in the user's zone; None: off.
    morning_agenda_at: Mapped[time | None] = mapped_column(Time())
    # {"weekday": 0-6 (Monday first), "time": "HH:MM:SS"}
    weekly_review_at: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # "student" or "admin"; admins read eval results (`studypilot users promote EMAIL`).
    role: Mapped[str] = mapped_column(String(16), default="student", server_default="student")
