import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from core.schemas import StrictModel

MAX_NOTE_CHARS = 1_000_000
MAX_TAGS = 20

EmbeddingStatus = Literal["pending", "ready", "failed"]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _normalise_tags(tags: list[str]) -> list[str]:
    # Lower-cased and de-duplicated, first spelling's order kept: tags are matched exactly.
    return list(dict.fromkeys(tag.lower() for tag in tags))


Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_normalise_tags)]


class NoteCreate(StrictModel):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=MAX_NOTE_CHARS, description="Markdown.")
    course_id: uuid.UUID | None = None
    module_id: uuid.UUID | None = Field(
        default=None, description="A module of `course_id` (or of any course you can read)."
    )
    tags: Tags = Field(default_factory=list)


class NoteUpdate(StrictModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)
    course_id: uuid.UUID | None = None
    module_id: uuid.UUID | None = None
    tags: Tags | None = None


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    body: str
    course_id: uuid.UUID | None
    module_id: uuid.UUID | None
    tags: list[str]
    embedding_status: EmbeddingStatus = Field(
        description="pending until embedded (then semantically searchable), or failed."
    )
    created_at: datetime
    updated_at: datetime


class NoteHit(NoteRead):
    score: float | None = Field(default=None, description="Relevance, when searching.")
