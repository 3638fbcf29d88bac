import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal["pdf", "docx", "html", "markdown", "text"]
DocumentStatus = Literal["processing", "ready", "failed"]


class DocumentAccepted(BaseModel):
    id: uuid.UUID
    status: DocumentStatus = Field(description="Always `processing`: extraction runs after this.")


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    filename: str
    kind: DocumentKind
    content_type: str = Field(description="Sniffed from the file's bytes.")
    size_bytes: int
    course_id: uuid.UUID | None
    module_id: uuid.UUID | None
    resource_id: uuid.UUID | None = Field(
        description="The resource this page was fetched from (`POST /resources` with `ingest`)."
    )
    tags: list[str]
    status: DocumentStatus = Field(
        description="processing until its chunks are stored; then ready, or failed (see "
        "`failure_reason`)."
    )
    failure_reason: str | None
    page_count: int | None = Field(description="PDF pages; null for other kinds.")
    chunk_count: int
    processed_at: datetime | None
    created_at: datetime
    updated_at: datetime
