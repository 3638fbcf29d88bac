"""users: times of the scheduled agent jobs (morning agenda, weekly review)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("morning_agenda_at", sa.Time(), nullable=True))
    op.add_column(
        "users",
        sa.Column("weekly_review_at", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("users", "weekly_review_at")
    op.drop_column("users", "morning_agenda_at")
