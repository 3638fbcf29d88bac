"""Column types shared by searchable tables."""

from sqlalchemy import Computed
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

# Chosen once: changing it means re-embedding and a migration of every vector column.
EMBEDDING_DIMENSIONS = 384
TEXT_SEARCH_CONFIG = "english"


def weighted_tsvector(*weighted: tuple[str, str], tags: str | None = None) -> Mapped[str]:
    """A stored generated tsvector over (column, weight) pairs, kept up to date by Postgres.

    `tags` names a text-array column added whole at weight C; tags are stored lower-cased, and
    array_to_tsvector is immutable where array_to_string (needed to stem them) is not.
    """
    parts = [
        f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', coalesce({column}, '')), '{weight}')"
        for column, weight in weighted
    ]
    if tags is not None:
        parts.append(f"setweight(array_to_tsvector({tags}::text[]), 'C')")
    return mapped_column(TSVECTOR, Computed(" || ".join(parts), persisted=True), deferred=True)
