import uuid
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from core.schemas import StrictModel

Length = Literal["short", "medium", "long"]
SubjectType = Literal["note", "course", "document"]


class SummaryRequest(StrictModel):
    note_id: uuid.UUID | None = Field(default=None, description="A note of yours.")
    course_id: uuid.UUID | None = Field(
        default=None, description="A course of yours or a public one."
    )
    document_id: uuid.UUID | None = Field(
        default=None, description="A document of yours, once `ready`."
    )
    length: Length = "medium"

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        given = [self.note_id, self.course_id, self.document_id]
        if sum(subject is not None for subject in given) != 1:
            raise ValueError("give exactly one of note_id, course_id and document_id")
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
