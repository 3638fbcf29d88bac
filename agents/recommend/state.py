"""What flows through the recommend graph, and what it runs with."""

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from agents.structured import StructuredMethod
from prompts import Prompt


@dataclass(frozen=True)
class CandidateView:
    """A candidate as the model sees it: numbered, so it can point at one without copying ids."""

    number: int
    title: str
    type: str
    description: str | None
    tags: list[str]


class RankedPick(BaseModel):
    candidate: int = Field(description="The candidate's number, as shown.")
    reason: str = Field(description="One sentence: why this resource helps this learner now.")


class RankedResources(BaseModel):
    """The chosen candidates, best first."""

    recommendations: list[RankedPick]


@dataclass(frozen=True)
class Pick:
    """A checked choice: a candidate that was offered, picked once, with its reason."""

    number: int
    reason: str


class RecommendState(TypedDict):
    learner: dict[str, Any]
    candidates: list[CandidateView]
    limit: int
    # The model's answer as given, then what survives validation.
    ranked: NotRequired[list[RankedPick]]
    picks: NotRequired[list[Pick]]


@dataclass(frozen=True)
class RecommendContext:
    """Run-time settings: the caller's model and prompt version (an eval may swap either)."""

    model: BaseChatModel
    prompt: Prompt
    method: StructuredMethod = "tool_calling"
