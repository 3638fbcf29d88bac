"""Note rules: links only to courses and modules the owner can read; edits re-queue embedding."""

import uuid

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFoundError
from core.pagination import PageParams
from domain.courses.links import readable_links
from domain.courses.repository import CourseRepository
from domain.notes.models import Note
from domain.notes.repository import NoteRepository
from domain.notes.schemas import NoteCreate, NoteUpdate
from domain.search.ranking import SearchQuery


class NoteNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Note not found.")


class NoteService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.notes = NoteRepository(session)
        self.courses = CourseRepository(session)

    async def create(self, user_id: uuid.UUID, data: NoteCreate) -> Note:
        course_id, module_id = await self._checked_links(user_id, data.course_id, data.module_id)
        note = Note(
            user_id=user_id,
            title=data.title,
            body=data.body,
            course_id=course_id,
            module_id=module_id,
            tags=data.tags,
            embedding_status="pending",
        )
        return await self.notes.add(note)

    async def get(self, user_id: uuid.UUID, note_id: uuid.UUID) -> Note:
        note = await self.notes.get(user_id, note_id)
        if note is None:
            raise NoteNotFoundError()
        return note

    async def list(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        query: SearchQuery,
        course_id: uuid.UUID | None = None,
        tag: str | None = None,
    ) -> tuple[list[tuple[Note, float | None]], str | None]:
        conditions: list[ColumnElement[bool]] = [Note.user_id == user_id]
        if course_id is not None:
            conditions.append(Note.course_id == course_id)
        if tag is not None:
            conditions.append(Note.tags.contains([tag.strip().lower()]))
        return await self.notes.list_page(conditions, query, params)

    async def update(self, user_id: uuid.UUID, note_id: uuid.UUID, changes: NoteUpdate) -> Note:
        note = await self.get(user_id, note_id)
        fields = changes.model_fields_set
        if "course_id" in fields or "module_id" in fields:
            course_id = changes.course_id if "course_id" in fields else note.course_id
            module_id = changes.module_id if "module_id" in fields else note.module_id
            if "course_id" in fields and "module_id" not in fields and course_id != note.course_id:
                module_id = None  # a module of the old course cannot stay
            note.course_id, note.module_id = await self._checked_links(
                user_id, course_id, module_id
            )
        if changes.title is not None:
            note.title = changes.title
        if changes.body is not None:
            note.body = changes.body
        if changes.tags is not None:
            note.tags = changes.tags
        if {"title", "body", "tags"} & fields:
            # The stored vector describes the old text; search must not trust it.
            note.embedding_status = "pending"
        await self.session.flush()
        await self.session.refresh(note)
        return note

    async def delete(self, user_id: uuid.UUID, note_id: uuid.UUID) -> None:
        await self.notes.delete(await self.get(user_id, note_id))

    async def _checked_links(
        self, user_id: uuid.UUID, course_id: uuid.UUID | None, module_id: uuid.UUID | None
    ) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        return await readable_links(self.courses, user_id, course_id, module_id)
