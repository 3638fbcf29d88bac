"""One search over everything a student keeps: notes, resources and document passages.

The three tables are read as one union of `(kind, id, search, embedding, embedding_model)`, and
the same ranking as each table's own list (`ranking.scored_subquery`: full text, vectors of the
current model, or both fused by reciprocal rank) runs over it, so scores of different kinds are
comparable and one `(score, id)` cursor pages through all of them.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate_rows
from domain.documents.models import Document, DocumentChunk
from domain.notes.models import Note
from domain.resources.models import Resource
from domain.search.ranking import SearchQuery, force_custom_plan, scored_subquery
from domain.search.schemas import Citation, SearchHit, SearchKind

SNIPPET_CHARS = 400
SEARCH_KINDS: tuple[SearchKind, ...] = ("note", "resource", "document")
_TABLES: dict[SearchKind, Any] = {"note": Note, "resource": Resource, "document": DocumentChunk}


def document_ref(document_id: uuid.UUID, page: int | None) -> str:
    """How a passage is cited: by page where the document has pages."""
    return f"document:{document_id}#page={page}" if page is not None else f"document:{document_id}"


def _searchable(user_id: uuid.UUID, kinds: Sequence[SearchKind]) -> Any:
    selects: list[Select[Any]] = [
        select(
            literal(kind).label("kind"),
            table.id.label("id"),
            table.search.label("search"),
            table.embedding.label("embedding"),
            table.embedding_model.label("embedding_model"),
        ).where(table.user_id == user_id)
        for kind, table in _TABLES.items()
        if kind in kinds
    ]
    return union_all(*selects).subquery("searchable")


async def search_everything(
    session: AsyncSession,
    user_id: uuid.UUID,
    query: SearchQuery,
    params: PageParams,
    kinds: Sequence[SearchKind] = SEARCH_KINDS,
) -> tuple[list[SearchHit], str | None]:
    """The user's best matches of every kind in `kinds`, best first; needs text or a vector."""
    if not (query.text or query.is_semantic):
        raise ValueError("a search needs text or a vector")
    if query.is_semantic:
        await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    await force_custom_plan(session)
    searchable = _searchable(user_id, kinds)
    scored = scored_subquery(searchable.c, [], query)
    statement = select(searchable.c.kind, searchable.c.id, scored.c.score).join_from(
        searchable, scored, searchable.c.id == scored.c.id
    )
    rows, cursor = await paginate_rows(
        session, statement, [scored.c.score, searchable.c.id], params
    )
    found = [(row[0], row[1], float(row[2])) for row in rows]
    return await _hits(session, found), cursor


async def _hits(
    session: AsyncSession, found: list[tuple[SearchKind, uuid.UUID, float]]
) -> list[SearchHit]:
    ids: dict[SearchKind, list[uuid.UUID]] = {kind: [] for kind in SEARCH_KINDS}
    for kind, row_id, _ in found:
        ids[kind].append(row_id)
    by_id: dict[uuid.UUID, tuple[str, str, Citation]] = {}
    if ids["note"]:
        for note in await session.scalars(select(Note).where(Note.id.in_(ids["note"]))):
            by_id[note.id] = (note.title, note.body, Citation(ref=f"note:{note.id}"))
    if ids["resource"]:
        resources = await session.scalars(select(Resource).where(Resource.id.in_(ids["resource"])))
        for resource in resources:
            snippet = f"{resource.url or ''} {resource.description or ''}".strip()
            by_id[resource.id] = (resource.title, snippet, Citation(ref=f"resource:{resource.id}"))
    if ids["document"]:
        passages = await session.execute(
            select(DocumentChunk, Document.title)
            .join(Document, Document.id == DocumentChunk.document_id)
            .where(DocumentChunk.id.in_(ids["document"]))
        )
        for chunk, title in passages.tuples():
            by_id[chunk.id] = (title, chunk.text, passage_citation(chunk))
    hits = []
    for kind, row_id, score in found:
        # A row deleted between the two reads is simply left out.
        if row_id in by_id:
            title, snippet, citation = by_id[row_id]
            hits.append(
                SearchHit(
                    kind=kind,
                    id=row_id,
                    title=title,
                    snippet=snippet[:SNIPPET_CHARS],
                    score=score,
                    citation=citation,
                )
            )
    return hits


def passage_citation(chunk: DocumentChunk) -> Citation:
    return Citation(
        ref=document_ref(chunk.document_id, chunk.page),
        document_id=chunk.document_id,
        page=chunk.page,
        headings=list(chunk.headings),
        char_start=chunk.char_start,
        char_end=chunk.char_end,
    )
