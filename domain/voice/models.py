import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, TimestampMixin

VOICE_STATUSES = ("created", "active", "ended")


class VoiceSession(IdMixin, TimestampMixin, Base):
    """One LiveKit room for one student and one conversation: minted by the API, brought to
    life and ended by LiveKit's webhooks, served by the voice worker."""

    __tablename__ = "voice_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('created', 'active', 'ended')", name="status"),
        Index("ix_voice_sessions_user_id_created_at", "user_id", "created_at"),
        Index("ix_voice_sessions_conversation_id", "conversation_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    room: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="created")
    # Notes and courses put in front of the model on every spoken turn (ContextRefs as JSON).
    context_refs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    token_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)


class VoiceTranscriptLine(IdMixin, Base):
    """What was said aloud: the student's recognised words and the agent's spoken words. The
    thread keeps the whole answer; a line marked interrupted holds only what was heard."""

    __tablename__ = "voice_transcript_lines"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        Index("ix_voice_transcript_lines_session_created", "voice_session_id", "created_at"),
    )

    voice_session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voice_sessions.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class VoiceWebhookEvent(Base):
    """Every LiveKit webhook event applied, by its id: a redelivery is recognised, not redone."""

    __tablename__ = "voice_webhook_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    room: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
