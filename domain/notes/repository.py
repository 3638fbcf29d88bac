import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams
from domain.notes.models import Note
from domain.search.ranking import SearchQuery, list_or_search


class NoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, note_id: uuid.UUID) -> Note | None:
        result = await self.session.execute(
            select(Note).where(Note.id == note_id, Note.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def list_page(
        self,
        conditions: list[ColumnElement[bool]],
        query: SearchQuery,
        params: PageParams,
    ) -> tuple[list[tuple[Note, float | None]], str | None]:
        return await list_or_search(self.session, Note, conditions, query, params)

    async def add(self, note: Note) -> Note:
        self.session.add(note)
        await self.session.flush()
        await self.session.refresh(note)
        return note

    async def delete(self, note: Note) -> None:
        await self.session.delete(note)
        await self.session.flush()
