import uuid
from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from core.schemas import StrictModel
from domain.plans.tracking import PlanTracking

PlanStatus = Literal["draft", "accepted", "cancelled"]
DraftedBy = Literal["model", "fallback"]

MAX_PLAN_DAYS = 180
# Bounds of one drafted session, whoever drafts it.
MIN_SESSION_MINUTES = 10
MAX_SESSION_MINUTES = 240
# Far more than a 180-day plan needs; a draft that keeps going is cut rather than scheduled.
MAX_PLAN_SESSIONS = 200
MIN_MINUTES_PER_DAY = 10
MAX_MINUTES_PER_DAY = 720


class PlanCreate(StrictModel):
    """Plan for exactly one of a goal or a course."""

    goal_id: uuid.UUID | None = Field(default=None, description="One of your goals.")
    course_id: uuid.UUID | None = Field(
        default=None, description="A course you own, are enrolled in, or that is public."
    )
    start_date: date | None = Field(
        default=None,
        description="First day of the plan, in your time zone; from today to a year ahead. "
        "Default: today.",
    )
    end_date: date | None = Field(
        default=None,
        description="Last day of the plan, inclusive; not before start_date and at most "
        f"{MAX_PLAN_DAYS} days after it. Default: the goal's target date, else 13 days after "
        "start_date.",
    )
    minutes_per_day: int | None = Field(
        default=None,
        ge=MIN_MINUTES_PER_DAY,
        le=MAX_MINUTES_PER_DAY,
        description="Most minutes of study per day; tightens your study preferences' cap.",
    )

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.goal_id is None) == (self.course_id is None):
            raise ValueError("give exactly one of goal_id and course_id")
        return self


AUTO_REPLAN = (
    "After missed sessions, apply the re-plan at once (true), or only propose it (false): it "
    "is then stored, you are notified, `GET /plans/{id}` shows it as `replan_proposal`, and "
    "`POST /plans/{id}/replan/accept` applies it."
)


class PlanAccept(StrictModel):
    auto_replan: bool | None = Field(
        default=None, description=f"{AUTO_REPLAN} Default: the plan's setting (true)."
    )


class PlanUpdate(StrictModel):
    auto_replan: bool = Field(description=AUTO_REPLAN)


class ReplanAccept(StrictModel):
    proposal_id: uuid.UUID = Field(description="The `replan_proposal.id` being accepted.")


class PlanSlotRead(BaseModel):
    part: int = Field(description="1-based part of the session; long sessions are split.")
    start: datetime = Field(description="In the plan's time zone.")
    end: datetime
    schedule_block_id: uuid.UUID | None = Field(
        description="The schedule block written for this slot once the plan is accepted."
    )


class PlanSessionRead(BaseModel):
    id: uuid.UUID
    position: int = Field(description="0-based study order.")
    title: str
    objective: str
    module_id: uuid.UUID | None
    minutes: int
    slots: list[PlanSlotRead] = Field(description="Empty when the session did not fit.")


class PlanProof(BaseModel):
    """Re-derived from the slots alone, not taken from the placer's word."""

    minutes_needed: int
    minutes_placed: int
    minutes_short: int
    no_overlaps: bool = Field(description="No slot overlaps your schedule or another slot.")
    within_available_hours: bool
    before_deadline: bool
    after_not_before: bool = Field(description="Nothing starts before the plan was made.")
    in_order: bool
    part_lengths_ok: bool
    breaks_kept: bool
    within_daily_cap: bool
    fits: bool = Field(description="Everything placed and every check holds.")
    full_days: list[date] = Field(description="Days with no room left for another sitting.")
    unplaced_sessions: list[int] = Field(
        description="Positions of the sessions not (fully) placed."
    )


class ProposedSlot(BaseModel):
    part: int
    start: datetime
    end: datetime


class ProposedSession(BaseModel):
    position: int | None = Field(
        description="The plan's session it places again; null for a session the plan agent "
        "redrafted (redrafted sessions replace those left without a sitting)."
    )
    title: str
    objective: str
    minutes: int
    module_id: uuid.UUID | None
    slots: list[ProposedSlot] = Field(description="Empty when the session did not fit.")


class ReplanProposalRead(BaseModel):
    """A re-plan computed after missed sessions, not applied (`auto_replan` is off)."""

    id: uuid.UUID
    created_at: datetime
    replanned_by: Literal["agent", "scheduler"] = Field(
        description="`agent`: the plan agent redrafted what is left; `scheduler`: the owed "
        "sessions are placed again as they were."
    )
    summary: str = Field(description="What changes and why.")
    replaced_block_ids: list[uuid.UUID] = Field(
        description="The plan's blocks it removes: the missed sittings and those ahead."
    )
    sessions: list[ProposedSession]
    proof: PlanProof


class PlanSummary(BaseModel):
    id: uuid.UUID
    status: PlanStatus
    title: str
    goal_id: uuid.UUID | None
    course_id: uuid.UUID | None
    start_date: date
    end_date: date
    timezone: str = Field(description="The zone of start_date, end_date and every slot.")
    proof: PlanProof
    model: str
    prompt_version: str
    drafted_by: DraftedBy = Field(
        description="`fallback` when the model's draft could not be used: the sessions were "
        "then drafted from the course's modules and the work left, and placed the same way."
    )
    fallback_reason: str | None = Field(description="Why the fallback drafted this plan.")
    auto_replan: bool = Field(
        description="Whether a re-plan after missed sessions is applied (true) or proposed."
    )
    created_at: datetime
    accepted_at: datetime | None


class PlanRead(PlanSummary):
    sessions: list[PlanSessionRead]
    tracking: PlanTracking | None = Field(
        default=None,
        description="For an accepted or cancelled plan, from the workflow that follows it: "
        "status (active, behind, replanned, completed, cancelled), next session, minutes done "
        "vs planned. Null for a draft, or when it cannot be asked right now.",
    )
    replan_proposal: ReplanProposalRead | None = Field(
        default=None,
        description="The pending re-plan of a plan with `auto_replan` off; accept it with "
        "`POST /plans/{id}/replan/accept`.",
    )
