import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

DigestKind = Literal["morning_agenda", "weekly_review"]


class AgendaBlock(BaseModel):
    title: str
    start: datetime
    end: datetime
    goal_id: uuid.UUID | None


class GoalStanding(BaseModel):
    goal_id: uuid.UUID
    title: str
    target_date: date | None
    percent: float
    streak_days: int
    on_track: bool


class MorningAgendaFacts(BaseModel):
    """Everything the agenda says, and all the model may use."""

    day: date
    blocks: list[AgendaBlock]
    goals_due_soon: list[GoalStanding]
    suggestion: str


class GoalWeek(BaseModel):
    standing: GoalStanding
    minutes_done: int
    minutes_planned: int


class WeeklyReviewFacts(BaseModel):
    week_start: date
    week_end: date
    goals: list[GoalWeek]
    adjustments: list[str]
    # Goals the review proposes to re-plan (`POST /ai/create-plan` with the goal).
    replan_goal_ids: list[uuid.UUID]


class Digest(BaseModel):
    kind: DigestKind
    title: str
    body: str
    data: dict[str, object]
