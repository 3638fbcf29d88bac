"""study plans: auto_replan, and the re-plans proposed when it is off

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "study_plans",
        sa.Column("auto_replan", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_table(
        "plan_replan_proposals",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("replanned_by", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("replaced_block_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sessions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("proof", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'superseded')",
            name=op.f("ck_plan_replan_proposals_status"),
        ),
        sa.CheckConstraint(
            "replanned_by IN ('agent', 'scheduler')",
            name=op.f("ck_plan_replan_proposals_replanned_by"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["study_plans.id"],
            name=op.f("fk_plan_replan_proposals_plan_id_study_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_plan_replan_proposals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_replan_proposals")),
    )
    op.create_index(
        op.f("ix_plan_replan_proposals_plan_id"), "plan_replan_proposals", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_replan_proposals_plan_id"), table_name="plan_replan_proposals")
    op.drop_table("plan_replan_proposals")
    op.drop_column("study_plans", "auto_replan")
