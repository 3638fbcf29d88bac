import uuid
from typing import Literal

from pydantic import BaseModel, Field

SearchKind = Literal["note", "resource", "document"]


class Citation(BaseModel):
    ref: str = Field(
        description="How answers cite it: `note:<id>`, `resource:<id>`, or "
        "`document:<id>#page=<n>` (`document:<id>` for documents without pages).",
        examples=["document:7d2f7f06-2f43-4a53-9f2c-4c5e1d1e0a11#page=3"],
    )
    document_id: uuid.UUID | None = Field(default=None, description="Documents only.")
    page: int | None = Field(default=None, description="PDF page, from 1.")
    headings: list[str] = Field(
        default_factory=list, description="Heading path (Markdown, HTML, Word)."
    )
    char_start: int | None = Field(
        default=None, description="Where the passage starts in the document's extracted text."
    )
    char_end: int | None = Field(default=None, description="Where it ends (exclusive).")


class SearchHit(BaseModel):
    kind: SearchKind
    id: uuid.UUID = Field(description="The note's, the resource's, or the passage's id.")
    title: str = Field(description="The note's, resource's or document's title.")
    snippet: str
    score: float = Field(description="Relevance: text rank, cosine similarity, or fused (RRF).")
    citation: Citation
