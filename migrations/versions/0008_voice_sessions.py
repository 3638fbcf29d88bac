"""voice: voice sessions, their spoken transcripts, applied LiveKit webhook events

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_sessions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("room", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("context_refs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('created', 'active', 'ended')", name=op.f("ck_voice_sessions_status")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_voice_sessions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_voice_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_sessions")),
        sa.UniqueConstraint("room", name=op.f("uq_voice_sessions_room")),
    )
    op.create_index(
        "ix_voice_sessions_user_id_created_at",
        "voice_sessions",
        ["user_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_voice_sessions_conversation_id", "voice_sessions", ["conversation_id"], unique=False
    )
    op.create_table(
        "voice_transcript_lines",
        sa.Column("voice_session_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "role IN ('user', 'assistant')", name=op.f("ck_voice_transcript_lines_role")
        ),
        sa.ForeignKeyConstraint(
            ["voice_session_id"],
            ["voice_sessions.id"],
            name=op.f("fk_voice_transcript_lines_voice_session_id_voice_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_transcript_lines")),
    )
    op.create_index(
        "ix_voice_transcript_lines_session_created",
        "voice_transcript_lines",
        ["voice_session_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "voice_webhook_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("room", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_voice_webhook_events")),
    )


def downgrade() -> None:
    op.drop_table("voice_webhook_events")
    op.drop_index("ix_voice_transcript_lines_session_created", table_name="voice_transcript_lines")
    op.drop_table("voice_transcript_lines")
    op.drop_index("ix_voice_sessions_conversation_id", table_name="voice_sessions")
    op.drop_index("ix_voice_sessions_user_id_created_at", table_name="voice_sessions")
    op.drop_table("voice_sessions")
