"""Column types shared by searchable tables."""

from sqlalchemy import Computed
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

# Chosen once: changing it means re-embedding and a migration of every vector column.
EMBEDDING_DIMENSIONS = 384
TEXT_SEARCH_CONFIG = "english"


# array_to_string is only STABLE (some element types print per locale), so a generated column
# may not call it; for text[] it is immutable, which this wrapper (created in migration 0002) says.
TAGS_TEXT_FUNCTION = "studypilot_tags_text"


def weighted_tsvector(*weighted: tuple[str, str], tags: str | None = None) -> Mapped[str]:
    """A stored generated tsvector over (column, weight) pairs, kept up to date by Postgres.

    `tags` names a text-array column, stemmed like the rest and weighted C.
    """
    parts = [
        f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', coalesce({column}, '')), '{weight}')"
        for column, weight in weighted
    ]
    if tags is not None:
        parts.append(
            f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', "
            f"{TAGS_TEXT_FUNCTION}({tags}::text[])), 'C')"
        )
    return mapped_column(TSVECTOR, Computed(" || ".join(parts), persisted=True), deferred=True)
