"""What flows through the plan graph, and what it runs with."""

from dataclasses import dataclass
from typing import NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from agents.structured import StructuredMethod
from domain.plans.briefs import DraftedSession, PlanBrief
from domain.plans.schemas import MAX_SESSION_MINUTES as MAX_SESSION_MINUTES
from domain.plans.schemas import MIN_SESSION_MINUTES as MIN_SESSION_MINUTES
from prompts import Prompt


class DraftSession(BaseModel):
    # Ids and times arrive as text: a malformed one is dropped, not a reason to reject the draft.
    title: str = Field(description="Short name the student sees in their calendar.")
    module_id: str | None = Field(
        default=None,
        description="Id of the module this session works on, copied from the course's modules; "
        "null for review or practice across modules.",
    )
    minutes: int = Field(ge=MIN_SESSION_MINUTES, le=MAX_SESSION_MINUTES)
    objective: str = Field(description="What the student can do after this session.")
    preferred_start: str | None = Field(
        default=None,
        description="Optional local date-time inside the window (ISO 8601, e.g. "
        "2025-06-10T18:00); a hint, followed only when that time is free.",
    )


class StudyPlanDraft(BaseModel):
    """The plan's study sessions, in the order they should be studied."""

    sessions: list[DraftSession] = Field(min_length=1)


class PlanState(TypedDict):
    brief: PlanBrief
    # The model's answer as given, then what survives validation.
    draft: NotRequired[list[DraftSession]]
    sessions: NotRequired[list[DraftedSession]]


@dataclass(frozen=True)
class PlanContext:
    """Run-time settings: the caller's model and prompt version (an eval may swap either)."""

    model: BaseChatModel
    prompt: Prompt
    method: StructuredMethod = "tool_calling"
