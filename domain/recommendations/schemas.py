import uuid
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from core.schemas import StrictModel
from domain.resources.schemas import ResourceRead

# Enough to describe what a learner is doing; more only dilutes the query and the prompt.
MAX_CONTEXT_COURSES = 10
MAX_CONTEXT_GOALS = 10
MAX_RECOMMENDATIONS = 20


class LearnerContext(StrictModel):
    course_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT_COURSES,
        description="Courses you own or can read (public).",
    )
    goal_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_CONTEXT_GOALS, description="Your own goals."
    )
    recent_activity: str | None = Field(
        default=None, max_length=2000, description="What you studied or struggled with lately."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.course_ids or self.goal_ids or (self.recent_activity or "").strip()):
            raise ValueError("give at least one of course_ids, goal_ids or recent_activity")
        return self


class RecommendRequest(StrictModel):
    context: LearnerContext
    limit: int = Field(default=5, ge=1, le=MAX_RECOMMENDATIONS)


class RecommendationRead(BaseModel):
    id: uuid.UUID = Field(
        description="The recommendation; pass it as `recommendation_id` when saving the "
        'resource with `POST /resources` and `source: "ai"`.'
    )
    resource: ResourceRead
    reason: str = Field(description="Why this resource, in one sentence.")
    rank: int = Field(description="1 is the best fit.")
    score: float = Field(description="Cosine similarity between the context and the resource.")


class RecommendationList(BaseModel):
    items: list[RecommendationRead]
    model: str = Field(description="The language model that ranked the candidates.")
    prompt_version: str = Field(examples=["recommend/rerank@v1"])
    drafted_by: Literal["model", "fallback"] = Field(
        description="`fallback` when the model's ranking could not be used: the closest "
        "candidates in meaning, in that order, each with a plain reason."
    )
    fallback_reason: str | None = Field(description="Why the fallback chose.")
