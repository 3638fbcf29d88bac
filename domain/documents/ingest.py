"""A resource's page, fetched and stored as a document of that resource."""

import uuid
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.fetcher import Fetched
from domain.documents.models import Document
from domain.documents.service import DocumentService, Upload, UploadLimits
from domain.documents.storage import DocumentStorage
from domain.resources.models import Resource


def filename_of(url: str) -> str:
    """The URL's last path segment (`index.html` for a bare host): shown, and it tells Markdown
    from text; the kind itself is sniffed from the bytes."""
    name = PurePosixPath(urlsplit(url).path).name
    return name or "index.html"


async def ingest_fetched(
    session: AsyncSession,
    storage: DocumentStorage,
    limits: UploadLimits,
    user_id: uuid.UUID,
    resource: Resource,
    fetched: Fetched,
) -> Document:
    upload = Upload(
        filename=filename_of(fetched.url),
        data=fetched.content,
        title=resource.title,
        course_id=resource.course_id,
        tags=tuple(resource.tags),
        resource_id=resource.id,
    )
    return await DocumentService(session, storage).create(user_id, upload, limits)
