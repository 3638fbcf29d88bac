import uuid
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from core.schemas import StrictModel

Length = Literal["short", "medium", "long"]
SubjectType = Literal["note", "course"]


class SummaryRequest(StrictModel):
    note_id: uuid.UUID | None = Field(default=None, description="A note of yours.")
    course_id: uuid.UUID | None = Field(
        default=None, description="A course of yours or a public one."
    )
    length: Length = "medium"

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.note_id is None) == (self.course_id is None):
            raise ValueError("give exactly one of note_id and course_id")
        return self


class SummarySubject(BaseModel):
    type: SubjectType
    id: uuid.UUID


class SummaryRead(BaseModel):
    summary: str
    subject: SummarySubject
    length: Length
    cached: bool = Field(description="Served from the cache: the content has not changed since.")
    chunks: int = Field(description="Parts the content was split into to be summarised.")
    model: str
    prompt_version: str
    content_hash: str = Field(description="sha256 of the exact text summarised.")
