"""users: times of the scheduled agent jobs; study plans can be cancelled

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
    op.drop_constraint(op.f("ck_study_plans_status"), "study_plans", type_="check")
    op.create_check_constraint(
        op.f("ck_study_plans_status"), "study_plans", "status IN ('draft', 'accepted', 'cancelled')"
    )
    op.add_column("users", sa.Column("morning_agenda_at", sa.Time(), nullable=True))
    op.add_column(
        "users",
        sa.Column("weekly_review_at", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.execute("UPDATE study_plans SET status = 'accepted' WHERE status = 'cancelled'")
    op.drop_constraint(op.f("ck_study_plans_status"), "study_plans", type_="check")
    op.create_check_constraint(
        op.f("ck_study_plans_status"), "study_plans", "status IN ('draft', 'accepted')"
    )
    op.drop_column("users", "weekly_review_at")
    op.drop_column("users", "morning_agenda_at")
