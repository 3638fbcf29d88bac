"""realtime: the Postgres event bus (per-user streams and events) and websocket tickets

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "realtime_event_streams",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), server_default="0", nullable=False),
        sa.Column("trimmed_ms", sa.BigInteger(), nullable=True),
        sa.Column("trimmed_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_realtime_event_streams")),
    )
    op.create_table(
        "realtime_events",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["realtime_event_streams.user_id"],
            name=op.f("fk_realtime_events_user_id_realtime_event_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "ms", "seq", name=op.f("pk_realtime_events")),
    )
    op.create_table(
        "realtime_tickets",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_realtime_tickets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_realtime_tickets")),
    )
    op.create_index(
        op.f("ix_realtime_tickets_expires_at"), "realtime_tickets", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_realtime_tickets_user_id"), "realtime_tickets", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_realtime_tickets_user_id"), table_name="realtime_tickets")
    op.drop_index(op.f("ix_realtime_tickets_expires_at"), table_name="realtime_tickets")
    op.drop_table("realtime_tickets")
    op.drop_table("realtime_events")
    op.drop_table("realtime_event_streams")
