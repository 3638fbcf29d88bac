"""Full-text, semantic and hybrid (reciprocal rank fusion) search over one table, paginated.

Every mode produces a `score` per row and pages by `(score, id)` keysets, so pages stay stable
while rows are inserted. Semantic and hybrid search rank a bounded candidate set (the
`CANDIDATES` nearest / best-matching rows per signal): past it, relevance is noise.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Float, Select, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.pagination import PageParams, paginate, paginate_rows
from core.search import TEXT_SEARCH_CONFIG

CANDIDATES = 100
# The k of reciprocal rank fusion (Cormack et al.): damps the weight of the very top ranks.
RRF_K = 60


class Searchable(Protocol):
    id: InstrumentedAttribute[uuid.UUID]
    search: InstrumentedAttribute[str]
    embedding: InstrumentedAttribute[list[float] | None]
    embedding_model: InstrumentedAttribute[str | None]


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    vector: Sequence[float] | None = None
    # Only vectors made by this model are compared: two models' spaces don't mix.
    model_id: str | None = None

    @property
    def is_semantic(self) -> bool:
        return self.vector is not None


async def force_custom_plan(session: AsyncSession) -> None:
    """Plans made for the actual user and query, never the cached generic plan, which is made
    for an average user: for a term it ANDs the user filter with the term's postings across all
    users (milliseconds, growing with the table) where a plan for the term reads the user's rows
    (a fraction of a millisecond); for a vector it sorts all the user's rows by exact distance
    (140 ms for a user with 10,000 notes) where a plan for that user walks the HNSW index."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def list_or_search(
    session: AsyncSession,
    model: Any,
    conditions: Sequence[ColumnElement[bool]],
    query: SearchQuery,
    params: PageParams,
) -> tuple[list[tuple[Any, float | None]], str | None]:
    """Ranked hits when there is a query; otherwise the newest rows, with no score."""
    if query.text or query.is_semantic:
        hits, cursor = await search_page(session, model, conditions, query, params)
        return [(row, score) for row, score in hits], cursor
    rows, cursor = await paginate(
        session, select(model).where(*conditions), [model.created_at, model.id], params
    )
    return [(row, None) for row in rows], cursor


async def search_page(
    session: AsyncSession,
    model: Any,
    conditions: Sequence[ColumnElement[bool]],
    query: SearchQuery,
    params: PageParams,
) -> tuple[list[tuple[Any, float]], str | None]:
    """Rows of `model` matching `conditions`, best first, each with its score."""
    if query.is_semantic:
        # Filtered HNSW scans stop early without this; relaxed order is re-sorted below.
        await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    await force_custom_plan(session)
    scored = scored_subquery(model, conditions, query)
    statement = select(model).join(scored, model.id == scored.c.id)
    rows, cursor = await paginate_rows(
        session, statement.add_columns(scored.c.score), [scored.c.score, model.id], params
    )
    return [(row[0], float(row[1])) for row in rows], cursor


def scored_subquery(
    model: Any, conditions: Sequence[ColumnElement[bool]], query: SearchQuery
) -> Any:
    """`(id, score)` of the rows matching `query`: `model` is a mapped class, or the columns
    (`.c`) of a subquery with `id`, `search`, `embedding` and `embedding_model`."""
    legs = []
    if query.text:
        legs.append(_text_leg(model, conditions, query.text, bounded=query.is_semantic))
    if query.is_semantic:
        legs.append(_vector_leg(model, conditions, query))
    if len(legs) == 1:
        return legs[0].subquery()
    text_leg, vector_leg = (leg.cte() for leg in legs)
    fused_id = func.coalesce(text_leg.c.id, vector_leg.c.id)
    score = func.coalesce(1.0 / (RRF_K + text_leg.c.rank), 0.0) + func.coalesce(
        1.0 / (RRF_K + vector_leg.c.rank), 0.0
    )
    return (
        select(fused_id.label("id"), score.cast(Float).label("score"))
        .select_from(text_leg.join(vector_leg, text_leg.c.id == vector_leg.c.id, full=True))
        .subquery()
    )


def _text_leg(
    model: Any, conditions: Sequence[ColumnElement[bool]], text_query: str, *, bounded: bool
) -> Select[Any]:
    tsquery = func.websearch_to_tsquery(TEXT_SEARCH_CONFIG, text_query)
    relevance = func.ts_rank_cd(model.search, tsquery, type_=Float)
    matches = select(model.id).where(*conditions, model.search.op("@@")(tsquery))
    if not bounded:
        return matches.add_columns(relevance.label("score"))
    ranked = matches.add_columns(
        func.row_number().over(order_by=(relevance.desc(), model.id)).label("rank")
    )
    return ranked.order_by(relevance.desc(), model.id).limit(CANDIDATES)


def _vector_leg(model: Any, conditions: Sequence[ColumnElement[bool]], query: SearchQuery) -> Any:
    assert query.vector is not None
    distance = model.embedding.cosine_distance(list(query.vector))
    nearest = (
        select(model.id, distance.label("distance"))
        .where(*conditions, model.embedding_model == literal(query.model_id))
        .order_by(distance)
        .limit(CANDIDATES)
        .cte("nearest")
        .prefix_with("MATERIALIZED")
    )
    if query.text:
        return select(
            nearest.c.id,
            func.row_number().over(order_by=(nearest.c.distance, nearest.c.id)).label("rank"),
        )
    return select(nearest.c.id, (1.0 - nearest.c.distance).cast(Float).label("score"))
