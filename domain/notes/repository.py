from sqlalchemy import ColumnElement

from core.pagination import PageParams
from core.repository import OwnedRepository
from domain.notes.models import Note
from domain.search.ranking import SearchQuery, list_or_search


class NoteRepository(OwnedRepository[Note]):
    model = Note

    async def list_page(
        self,
        conditions: list[ColumnElement[bool]],
        query: SearchQuery,
        params: PageParams,
    ) -> tuple[list[tuple[Note, float | None]], str | None]:
        return await list_or_search(self.session, Note, conditions, query, params)
