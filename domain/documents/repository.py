import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, insert, select

from core.pagination import PageParams, paginate
from core.repository import OwnedRepository
from domain.documents.models import Document, DocumentChunk


class DocumentRepository(OwnedRepository[Document]):
    model = Document

    async def get_any(
        self, document_id: uuid.UUID, *, lock: Literal["update", "share"] | None = None
    ) -> Document | None:
        """By id alone: for processing, which acts for the owner the document already has."""
        statement = select(Document).where(Document.id == document_id)
        if lock is not None:
            statement = statement.with_for_update(read=lock == "share")
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_for_update(self, user_id: uuid.UUID, document_id: uuid.UUID) -> Document | None:
        """The owner's document, locked: a delete waits for processing's writes to finish."""
        result = await self.session.execute(
            select(Document)
            .where(Document.id == document_id, Document.user_id == user_id)
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def list_page(
        self, conditions: Sequence[ColumnElement[bool]], params: PageParams
    ) -> tuple[list[Document], str | None]:
        return await paginate(
            self.session,
            select(Document).where(*conditions),
            [Document.created_at, Document.id],
            params,
        )

    async def stored_bytes(self, user_id: uuid.UUID) -> int:
        total = await self.session.scalar(
            select(func.coalesce(func.sum(Document.size_bytes), 0)).where(
                Document.user_id == user_id
            )
        )
        return int(total or 0)

    async def replace_chunks(self, document_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(
            delete(DocumentChunk).where(DocumentChunk.document_id == document_id)
        )
        if rows:
            await self.session.execute(insert(DocumentChunk), rows)

    async def chunk_batch(
        self, document_id: uuid.UUID, *, after: int, limit: int
    ) -> list[DocumentChunk]:
        result = await self.session.execute(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == document_id, DocumentChunk.position > after)
            .order_by(DocumentChunk.position)
            .limit(limit)
        )
        return list(result.scalars())

    async def chunks(self, document_id: uuid.UUID) -> list[DocumentChunk]:
        result = await self.session.execute(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == document_id)
            .order_by(DocumentChunk.position)
        )
        return list(result.scalars())

    async def stuck(self, updated_before: datetime) -> list[uuid.UUID]:
        """Documents still `processing` that nothing has touched since `updated_before`."""
        result = await self.session.execute(
            select(Document.id)
            .where(Document.status == "processing", Document.updated_at < updated_before)
            .order_by(Document.updated_at)
        )
        return list(result.scalars())
