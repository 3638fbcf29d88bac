import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from core.schemas import StrictModel
from domain.notes.schemas import EmbeddingStatus, Tags

ResourceType = Literal["article", "video", "book", "course", "exercise", "other"]
ResourceSource = Literal["manual", "ai"]


def _normalise_url(url: HttpUrl) -> str:
    # Same page, same resource: scheme and host are case-insensitive, fragments stay client-side.
    normalised = str(url).split("#", 1)[0]
    return (
        normalised[:-1] if normalised.endswith("/") and url.path not in (None, "/") else normalised
    )


NormalisedUrl = Annotated[HttpUrl, AfterValidator(_normalise_url)]


class ResourceCreate(StrictModel):
    title: str = Field(min_length=1, max_length=300)
    url: NormalisedUrl | None = Field(default=None, description="http(s); unique per user.")
    type: ResourceType
    description: str | None = Field(default=None, max_length=20_000)
    tags: Tags = Field(default_factory=list)
    course_id: uuid.UUID | None = None
    source: ResourceSource = "manual"
    recommendation_id: uuid.UUID | None = Field(
        default=None, description="Required with source 'ai': the recommendation it came from."
    )
    ingest: bool = Field(
        default=False,
        description="Fetch `url` now and ingest the page (or file) as a document: searchable "
        "and citable like an upload. Only public http(s) addresses are fetched.",
    )

    @model_validator(mode="after")
    def _ai_needs_recommendation(self) -> Self:
        if (self.source == "ai") != (self.recommendation_id is not None):
            raise ValueError("recommendation_id is required with source 'ai', and only then")
        if self.ingest and self.url is None:
            raise ValueError("ingest needs a url")
        return self


class ResourceUpdate(StrictModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    url: NormalisedUrl | None = None
    type: ResourceType | None = None
    description: str | None = Field(default=None, max_length=20_000)
    tags: Tags | None = None
    course_id: uuid.UUID | None = None


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    url: str | None
    type: ResourceType
    description: str | None
    tags: list[str]
    course_id: uuid.UUID | None
    source: ResourceSource
    recommendation_id: uuid.UUID | None
    embedding_status: EmbeddingStatus
    created_at: datetime
    updated_at: datetime


class ResourceCreated(ResourceRead):
    document_id: uuid.UUID | None = Field(
        default=None,
        description="With `ingest`: the document made from the page, `processing` at first "
        "(`GET /documents/{id}`).",
    )


class ResourceHit(ResourceRead):
    score: float | None = Field(
        default=None,
        description="Relevance when searching: text rank, cosine similarity, or fused (RRF).",
    )
