"""learning domain

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # array_to_string is STABLE in general but immutable for text[]; generated columns need that
    # promise to stem tags with the rest of the text.
    op.execute(
        "CREATE FUNCTION studypilot_tags_text(text[]) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string($1, ' ') $$"
    )
    op.create_table(
        "courses",
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
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
            "visibility IN ('private', 'public')", name=op.f("ck_courses_visibility")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_courses_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
    )
    op.create_index(
        "ix_courses_owner_id_created_at", "courses", ["owner_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_courses_search", "courses", ["search"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "course_modules",
        sa.Column("course_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("estimated_minutes", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
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
            "estimated_minutes IS NULL OR estimated_minutes > 0",
            name=op.f("ck_course_modules_minutes"),
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_course_modules_position_not_negative")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_modules_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_modules")),
        sa.UniqueConstraint(
            "course_id",
            "position",
            deferrable=True,
            initially="DEFERRED",
            name="uq_course_modules_position",
        ),
    )
    op.create_table(
        "enrollments",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("course_id", sa.UUID(), nullable=False),
        sa.Column(
            "enrolled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_enrollments_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_enrollments_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("user_id", "course_id", name="uq_enrollments_user_course"),
    )
    op.create_index(op.f("ix_enrollments_course_id"), "enrollments", ["course_id"], unique=False)
    op.create_table(
        "goals",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("course_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("target_minutes", sa.Integer(), nullable=True),
        sa.Column("target_modules", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
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
            "status IN ('active', 'paused', 'completed', 'abandoned')", name=op.f("ck_goals_status")
        ),
        sa.CheckConstraint(
            "target_minutes IS NULL OR target_minutes > 0", name=op.f("ck_goals_target_minutes")
        ),
        sa.CheckConstraint(
            "target_minutes IS NULL OR target_modules IS NULL", name=op.f("ck_goals_one_target")
        ),
        sa.CheckConstraint(
            "target_modules IS NULL OR target_modules > 0", name=op.f("ck_goals_target_modules")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_goals_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_goals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index(op.f("ix_goals_course_id"), "goals", ["course_id"], unique=False)
    op.create_index("ix_goals_user_id_created_at", "goals", ["user_id", "created_at"], unique=False)
    op.create_table(
        "resources",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("course_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recommendation_id", sa.Uuid(), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B') || setweight(to_tsvector('english', studypilot_tags_text(tags::text[])), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
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
        sa.Column("embedding", Vector(384), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("embedding_status", sa.String(length=16), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "embedding_status IN ('pending', 'ready', 'failed')",
            name=op.f("ck_resources_embedding_status"),
        ),
        sa.CheckConstraint("source IN ('manual', 'ai')", name=op.f("ck_resources_source")),
        sa.CheckConstraint(
            "type IN ('article', 'video', 'book', 'course', 'exercise', 'other')",
            name=op.f("ck_resources_type"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_resources_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_resources_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
    )
    op.create_index(op.f("ix_resources_course_id"), "resources", ["course_id"], unique=False)
    op.create_index(
        "ix_resources_embedding_hnsw",
        "resources",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
        postgresql_with={"m": 24, "ef_construction": 128},
    )
    op.create_index(
        "ix_resources_search", "resources", ["search"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_resources_tags", "resources", ["tags"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_resources_user_id_created_at", "resources", ["user_id", "created_at"], unique=False
    )
    op.create_index("uq_resources_user_id_url", "resources", ["user_id", "url"], unique=True)
    op.create_table(
        "goal_progress_events",
        sa.Column("goal_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("modules_completed", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("minutes >= 0", name=op.f("ck_goal_progress_events_minutes")),
        sa.CheckConstraint(
            "modules_completed >= 0", name=op.f("ck_goal_progress_events_modules_completed")
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["goals.id"],
            name=op.f("fk_goal_progress_events_goal_id_goals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_goal_progress_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_progress_events")),
        sa.UniqueConstraint(
            "goal_id", "idempotency_key", name="uq_goal_progress_events_idempotency"
        ),
    )
    op.create_index(
        "ix_goal_progress_events_goal_id_occurred_at",
        "goal_progress_events",
        ["goal_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "module_completions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("module_id", sa.UUID(), nullable=False),
        sa.Column(
            "completed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["course_modules.id"],
            name=op.f("fk_module_completions_module_id_course_modules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_module_completions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module_completions")),
        sa.UniqueConstraint("user_id", "module_id", name="uq_module_completions_user_module"),
    )
    op.create_index(
        op.f("ix_module_completions_module_id"), "module_completions", ["module_id"], unique=False
    )
    op.create_table(
        "notes",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("course_id", sa.UUID(), nullable=True),
        sa.Column("module_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(body, '')), 'B') || setweight(to_tsvector('english', studypilot_tags_text(tags::text[])), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
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
        sa.Column("embedding", Vector(384), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("embedding_status", sa.String(length=16), nullable=False),
        sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "embedding_status IN ('pending', 'ready', 'failed')",
            name=op.f("ck_notes_embedding_status"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_notes_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["course_modules.id"],
            name=op.f("fk_notes_module_id_course_modules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_course_id"), "notes", ["course_id"], unique=False)
    op.create_index(
        "ix_notes_embedding_hnsw",
        "notes",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
        postgresql_with={"m": 24, "ef_construction": 128},
    )
    op.create_index("ix_notes_search", "notes", ["search"], unique=False, postgresql_using="gin")
    op.create_index("ix_notes_tags", "notes", ["tags"], unique=False, postgresql_using="gin")
    op.create_index("ix_notes_user_id_created_at", "notes", ["user_id", "created_at"], unique=False)
    op.create_table(
        "schedule_blocks",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=True),
        sa.Column("series_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("course_id", sa.UUID(), nullable=True),
        sa.Column("goal_id", sa.UUID(), nullable=True),
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
            "kind IN ('study', 'class', 'break', 'other')", name=op.f("ck_schedule_blocks_kind")
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_schedule_blocks_end_after_start")),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_schedule_blocks_course_id_courses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["goals.id"],
            name=op.f("fk_schedule_blocks_goal_id_goals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_schedule_blocks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_blocks")),
    )
    op.create_index(
        "ix_schedule_blocks_user_id_start_at",
        "schedule_blocks",
        ["user_id", "start_at"],
        unique=False,
    )
    op.create_table(
        "reminders",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("schedule_block_id", sa.UUID(), nullable=True),
        sa.Column("goal_id", sa.UUID(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("channel IN ('in_app')", name=op.f("ck_reminders_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'cancelled')", name=op.f("ck_reminders_status")
        ),
        sa.CheckConstraint(
            "schedule_block_id IS NULL OR goal_id IS NULL", name=op.f("ck_reminders_one_subject")
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_reminders_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_block_id"],
            ["schedule_blocks.id"],
            name=op.f("fk_reminders_schedule_block_id_schedule_blocks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reminders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    op.create_index(
        "ix_reminders_pending_remind_at",
        "reminders",
        ["remind_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_reminders_user_id_created_at", "reminders", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "schedule_exceptions",
        sa.Column("block_id", sa.UUID(), nullable=False),
        sa.Column("original_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("new_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_title", sa.String(length=200), nullable=True),
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
            "cancelled OR (new_start IS NOT NULL AND new_end IS NOT NULL AND new_end > new_start) OR (new_start IS NULL AND new_end IS NULL)",
            name=op.f("ck_schedule_exceptions_valid_override"),
        ),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["schedule_blocks.id"],
            name=op.f("fk_schedule_exceptions_block_id_schedule_blocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_exceptions")),
        sa.UniqueConstraint("block_id", "original_start", name="uq_schedule_exceptions_occurrence"),
    )


def downgrade() -> None:
    op.drop_table("schedule_exceptions")
    op.drop_index("ix_reminders_user_id_created_at", table_name="reminders")
    op.drop_index(
        "ix_reminders_pending_remind_at",
        table_name="reminders",
        postgresql_where="status = 'pending'",
    )
    op.drop_table("reminders")
    op.drop_index("ix_schedule_blocks_user_id_start_at", table_name="schedule_blocks")
    op.drop_table("schedule_blocks")
    op.drop_index("ix_notes_user_id_created_at", table_name="notes")
    op.drop_index("ix_notes_tags", table_name="notes", postgresql_using="gin")
    op.drop_index("ix_notes_search", table_name="notes", postgresql_using="gin")
    op.drop_index("ix_notes_embedding_hnsw", table_name="notes")
    op.drop_index(op.f("ix_notes_course_id"), table_name="notes")
    op.drop_table("notes")
    op.drop_index(op.f("ix_module_completions_module_id"), table_name="module_completions")
    op.drop_table("module_completions")
    op.drop_index("ix_goal_progress_events_goal_id_occurred_at", table_name="goal_progress_events")
    op.drop_table("goal_progress_events")
    op.drop_index("uq_resources_user_id_url", table_name="resources")
    op.drop_index("ix_resources_user_id_created_at", table_name="resources")
    op.drop_index("ix_resources_tags", table_name="resources", postgresql_using="gin")
    op.drop_index("ix_resources_search", table_name="resources", postgresql_using="gin")
    op.drop_index("ix_resources_embedding_hnsw", table_name="resources")
    op.drop_index(op.f("ix_resources_course_id"), table_name="resources")
    op.drop_table("resources")
    op.drop_index("ix_goals_user_id_created_at", table_name="goals")
    op.drop_index(op.f("ix_goals_course_id"), table_name="goals")
    op.drop_table("goals")
    op.drop_index(op.f("ix_enrollments_course_id"), table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_table("course_modules")
    op.drop_index("ix_courses_search", table_name="courses", postgresql_using="gin")
    op.drop_index("ix_courses_owner_id_created_at", table_name="courses")
    op.drop_table("courses")
    op.execute("DROP FUNCTION studypilot_tags_text(text[])")
