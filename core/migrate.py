"""Apply Alembic migrations from code (`studypilot run`, `studypilot db`, tests)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from agents.checkpointer import CHECKPOINTER_TABLES, drop_checkpointer, setup_checkpointer

SCRIPT_LOCATION = Path(migrations.__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # `%` is Alembic's interpolation character; a password may contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
    if revision == "head":
        # The chat checkpointer's tables follow the library's own versioned migrations.
        setup_checkpointer(database_url)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
    if revision == "base":
        drop_checkpointer(database_url)


def managed_by_alembic(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: the checkpointer's tables are the library's business."""
    return not (type_ == "table" and name in CHECKPOINTER_TABLES)
