"""Summary rules: who may summarise what, which exact text is summarised, and when a stored
summary still answers (same text, length, prompt version and model)."""

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, ConflictError
from domain.courses.models import Course, CourseModule
from domain.courses.repository import CourseRepository
from domain.courses.service import CourseService
from domain.documents.models import Document, DocumentChunk
from domain.documents.repository import DocumentRepository
from domain.documents.service import DocumentNotFoundError
from domain.documents.text import extracted_text
from domain.notes.models import Note
from domain.notes.schemas import MAX_NOTE_CHARS
from domain.notes.service import NoteService
from domain.summaries.repository import SummaryKey, SummaryRepository
from domain.summaries.schemas import (
    Length,
    SubjectType,
    SummaryRead,
    SummaryRequest,
    SummarySubject,
)

# A note at its largest, title included, always fits; a course can hold far more (200 modules of
# 200k characters), and every chunk of it is a model call charged to the student.
MAX_SOURCE_CHARS = MAX_NOTE_CHARS + 1_000


class SourceTooLongError(AppError):
    status_code = 422
    code = "source_too_long"


class DocumentNotReadyError(ConflictError):
    code = "document_not_ready"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"The document is {status}; it can be summarised once it is ready.",
            {"status": status},
        )


@dataclass(frozen=True)
class Summarised:
    text: str
    chunks: int


class Summariser(Protocol):
    """What turns text into a summary (the summary agent); the service only decides when."""

    @property
    def model_name(self) -> str: ...

    @property
    def prompt_version(self) -> str: ...

    def chunks_in(self, text: str) -> int: ...

    async def summarise(self, text: str, length: Length) -> Summarised: ...


@dataclass(frozen=True)
class Source:
    type: SubjectType
    id: uuid.UUID
    text: str


class SummaryService:
    def __init__(self, session: AsyncSession) -> None:
        self.summaries = SummaryRepository(session)
        self.notes = NoteService(session)
        self.courses = CourseService(session)
        self.course_rows = CourseRepository(session)
        self.documents = DocumentRepository(session)

    async def summarise(
        self,
        user_id: uuid.UUID,
        request: SummaryRequest,
        summariser: Summariser,
        release: Callable[[], Awaitable[None]],
    ) -> SummaryRead:
        """`release` is awaited once everything the model needs is read and before it is
        called: the caller's unit of work lets its connection go for the model's whole wait.
        The write after it re-reads the subject, so one deleted (or made private) meanwhile is
        a 404 rather than a summary stored for something that is gone."""
        source = await self._source(user_id, request)
        if len(source.text) > MAX_SOURCE_CHARS:
            raise SourceTooLongError(
                f"This is too long to summarise (more than {MAX_SOURCE_CHARS} characters).",
                {"chars": len(source.text), "max_chars": MAX_SOURCE_CHARS},
            )
        key = SummaryKey(
            user_id=user_id,
            subject_type=source.type,
            subject_id=source.id,
            length=request.length,
            content_hash=hashlib.sha256(source.text.encode()).hexdigest(),
            prompt_version=summariser.prompt_version,
            model=summariser.model_name,
        )
        stored = await self.summaries.find(key)
        if stored is not None:
            chunks = summariser.chunks_in(source.text)
            return _read(key, request.length, stored.text, chunks, cached=True)
        await release()
        result = await summariser.summarise(source.text, request.length)
        await self._source(user_id, request)
        await self.summaries.add_if_absent(key, result.text)
        return _read(key, request.length, result.text, result.chunks, cached=False)

    async def _source(self, user_id: uuid.UUID, request: SummaryRequest) -> Source:
        if request.note_id is not None:
            note = await self.notes.get(user_id, request.note_id)
            return Source("note", note.id, note_text(note))
        if request.document_id is not None:
            document = await self.documents.get(user_id, request.document_id)
            if document is None:
                raise DocumentNotFoundError()
            if document.status != "ready":
                raise DocumentNotReadyError(document.status)
            chunks = await self.documents.chunks(document.id)
            return Source("document", document.id, document_text(document, chunks))
        assert request.course_id is not None  # the request schema holds exactly one id
        course = await self.courses.get_readable(user_id, request.course_id)
        modules = await self.course_rows.modules(course.id)
        return Source("course", course.id, course_text(course, modules))


def note_text(note: Note) -> str:
    return "\n\n".join(part for part in (f"# {note.title}", note.body) if part)


def document_text(document: Document, chunks: list[DocumentChunk]) -> str:
    return f"# {document.title}\n\n{extracted_text(chunks)}"


def course_text(course: Course, modules: list[CourseModule]) -> str:
    """Title, description, then each module's title and content in the course's order."""
    parts = [f"# {course.title}", course.description]
    for module in modules:
        parts += [f"## {module.title}", module.content]
    return "\n\n".join(part for part in parts if part)


def _read(key: SummaryKey, length: Length, text: str, chunks: int, *, cached: bool) -> SummaryRead:
    return SummaryRead(
        summary=text,
        subject=SummarySubject.model_validate({"type": key.subject_type, "id": key.subject_id}),
        length=length,
        cached=cached,
        chunks=chunks,
        model=key.model,
        prompt_version=key.prompt_version,
        content_hash=key.content_hash,
    )
