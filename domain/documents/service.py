"""Document rules: what may be uploaded (type from the bytes, size, quota, zip limits), links to
readable courses, owner-only access, and the `document.updated` event every change announces."""

import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, NotFoundError
from core.events import Event, queue_event
from core.pagination import PageParams
from domain.courses.links import readable_links
from domain.courses.repository import CourseRepository
from domain.documents.models import Document
from domain.documents.repository import DocumentRepository
from domain.documents.schemas import DocumentRead
from domain.documents.sniff import CONTENT_TYPES, ZipLimits, sniff
from domain.documents.storage import DocumentStorage, StoredFileMissingError
from domain.users.models import User

DOCUMENTS_TOPIC = "documents"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class DocumentNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Document not found.")


class DocumentTooLargeError(AppError):
    status_code = 413
    code = "document_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The document is larger than {max_bytes} bytes.", {"max_bytes": max_bytes}
        )


class StorageQuotaExceededError(AppError):
    status_code = 413
    code = "storage_quota_exceeded"

    def __init__(self, quota_bytes: int, used_bytes: int) -> None:
        super().__init__(
            "This upload would take your documents past your storage quota; delete some first.",
            {"quota_bytes": quota_bytes, "used_bytes": used_bytes},
        )


class EmptyDocumentError(AppError):
    status_code = 422
    code = "empty_document"

    def __init__(self) -> None:
        super().__init__("The uploaded file is empty.")


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    quota_bytes: int
    zip: ZipLimits


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    title: str | None = None
    course_id: uuid.UUID | None = None
    module_id: uuid.UUID | None = None
    tags: tuple[str, ...] = ()
    resource_id: uuid.UUID | None = None


def document_event(document: Document) -> Event:
    """`document.updated` with the document as REST shows it."""
    return Event(
        user_id=document.user_id,
        topic=DOCUMENTS_TOPIC,
        type="document.updated",
        data=DocumentRead.model_validate(document).model_dump(mode="json"),
    )


def clean_filename(raw: str) -> str:
    """The last path segment of what the client called the file, printable, at most 255
    characters; it is only ever shown, never used as a path."""
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = _UNPRINTABLE.sub("", name).strip()
    return name[:255] or "document"


class DocumentService:
    def __init__(self, session: AsyncSession, storage: DocumentStorage) -> None:
        self.session = session
        self.storage = storage
        self.documents = DocumentRepository(session)
        self.courses = CourseRepository(session)

    async def create(self, user_id: uuid.UUID, upload: Upload, limits: UploadLimits) -> Document:
        """Store the file and its `processing` row; the caller schedules `process_document`
        once this unit of work commits."""
        if not upload.data:
            raise EmptyDocumentError()
        if len(upload.data) > limits.max_bytes:
            raise DocumentTooLargeError(limits.max_bytes)
        filename = clean_filename(upload.filename)
        kind = sniff(upload.data, filename, limits.zip)
        course_id, module_id = await readable_links(
            self.courses, user_id, upload.course_id, upload.module_id
        )
        # The owner's row, locked: two uploads at once cannot both fit the last of the quota.
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())
        used = await self.documents.stored_bytes(user_id)
        if used + len(upload.data) > limits.quota_bytes:
            raise StorageQuotaExceededError(limits.quota_bytes, used)
        document_id = uuid.uuid4()
        document = Document(
            id=document_id,
            user_id=user_id,
            course_id=course_id,
            module_id=module_id,
            resource_id=upload.resource_id,
            title=(upload.title or PurePosixPath(filename).stem or filename)[:300],
            tags=list(upload.tags),
            filename=filename,
            kind=kind,
            content_type=CONTENT_TYPES[kind],
            size_bytes=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            storage_key=f"{user_id}/{document_id}",
            status="processing",
            chunk_count=0,
        )
        await self.storage.put(document.storage_key, upload.data)
        try:
            await self.documents.add(document)
        except BaseException:
            # No row, no file: a failed write leaves nothing behind.
            await self.storage.delete(document.storage_key)
            raise
        queue_event(self.session, document_event(document))
        return document

    async def get(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Document:
        document = await self.documents.get(user_id, document_id)
        if document is None:
            raise DocumentNotFoundError()
        return document

    async def content(self, user_id: uuid.UUID, document_id: uuid.UUID) -> tuple[Document, bytes]:
        document = await self.get(user_id, document_id)
        try:
            return document, await self.storage.get(document.storage_key)
        except StoredFileMissingError as exc:
            # Storage lost it (restored database, wiped volume): gone, as far as a client can do.
            raise NotFoundError("The document's file is missing; upload it again.") from exc

    async def list(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        course_id: uuid.UUID | None = None,
        tag: str | None = None,
        status: str | None = None,
    ) -> tuple[list[Document], str | None]:
        conditions: list[ColumnElement[bool]] = [Document.user_id == user_id]
        if course_id is not None:
            conditions.append(Document.course_id == course_id)
        if tag is not None:
            conditions.append(Document.tags.contains([tag.strip().lower()]))
        if status is not None:
            conditions.append(Document.status == status)
        return await self.documents.list_page(conditions, params)

    async def delete(self, user_id: uuid.UUID, document_id: uuid.UUID) -> str:
        """Delete the row (its chunks and vectors cascade); returns the storage key, whose file
        the caller removes once this unit of work has committed."""
        document = await self.documents.get_for_update(user_id, document_id)
        if document is None:
            raise DocumentNotFoundError()
        key = document.storage_key
        await self.documents.delete(document)
        return key
