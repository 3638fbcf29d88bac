"""A course's study documents as an ordered outline: what a plan can follow when the course has
no modules. Sections are heading paths (two levels), or page ranges for PDFs without headings."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import Document, DocumentChunk

PAGES_PER_SECTION = 10
HEADING_LEVELS = 2
MAX_OUTLINE_SECTIONS = 40


async def course_outline(
    session: AsyncSession, user_id: uuid.UUID, course_id: uuid.UUID
) -> list[str]:
    """The sections of the user's ready documents of this course, documents oldest first."""
    rows = await session.execute(
        select(Document.id, Document.title, DocumentChunk.headings, DocumentChunk.page)
        .join(DocumentChunk, DocumentChunk.document_id == Document.id)
        .where(
            Document.user_id == user_id,
            Document.course_id == course_id,
            Document.status == "ready",
        )
        .order_by(Document.created_at, Document.id, DocumentChunk.position)
    )
    outline: list[tuple[uuid.UUID, str]] = []
    for document_id, title, headings, page in rows.tuples():
        section = (document_id, _section_name(title, headings, page))
        # Consecutive passages of one section are one entry; two documents stay apart.
        if not outline or outline[-1] != section:
            outline.append(section)
    return [name for _, name in outline][:MAX_OUTLINE_SECTIONS]


def _section_name(title: str, headings: list[str], page: int | None) -> str:
    if headings:
        name = f"{title}: {' > '.join(headings[:HEADING_LEVELS])}"
    elif page is not None:
        first = (page - 1) // PAGES_PER_SECTION * PAGES_PER_SECTION + 1
        name = f"{title}, pages {first}-{first + PAGES_PER_SECTION - 1}"
    else:
        name = title
    return name[:200]
