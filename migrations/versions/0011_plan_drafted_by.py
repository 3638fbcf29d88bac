"""study plans: who drafted the sessions (the model, or the fallback when its answer failed)

Revision ID: 0011
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every plan stored so far was drafted by a model.
    op.add_column(
        "study_plans",
        sa.Column("drafted_by", sa.String(length=16), server_default="model", nullable=False),
    )
    op.add_column("study_plans", sa.Column("fallback_reason", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_study_plans_drafted_by"), "study_plans", "drafted_by IN ('model', 'fallback')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_study_plans_drafted_by"), "study_plans", type_="check")
    op.drop_column("study_plans", "fallback_reason")
    op.drop_column("study_plans", "drafted_by")
