"""An accepted plan is followed by a long-running workflow (`plan-<plan_id>`): it hears of the
student's progress, notices missed sessions and re-plans. This is the port the plan rules use to
start, inform and stop it, and the shapes they exchange."""

import uuid
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

TrackingStatus = Literal["active", "behind", "replanned", "completed", "cancelled"]


class TrackedSlot(BaseModel):
    block_id: uuid.UUID
    start: datetime
    end: datetime


class PlanTrack(BaseModel):
    """What the workflow follows: the plan's written slots, until `ends_at`."""

    plan_id: uuid.UUID
    user_id: uuid.UUID
    slots: list[TrackedSlot]
    ends_at: datetime


class ProgressReport(BaseModel):
    minutes: int
    occurred_at: datetime
    goal_completed: bool = False


class ReplanApplied(BaseModel):
    slots: list[TrackedSlot]


class PlanTracking(BaseModel):
    """The workflow's answer to `GET /plans/{id}`."""

    status: TrackingStatus
    next_session_at: datetime | None = Field(description="Start of the next session ahead.")
    minutes_done: int = Field(description="Minutes of progress recorded since the plan started.")
    minutes_planned: int = Field(description="Minutes of every session of the plan.")
    missed_sessions: int
    replans: int


# Checkable: tool contexts holding it are introspected by pydantic.
@runtime_checkable
class PlanTracker(Protocol):
    async def start(self, track: PlanTrack) -> None: ...

    async def progress(self, plan_id: uuid.UUID, report: ProgressReport) -> None: ...

    async def cancel(self, plan_id: uuid.UUID) -> None: ...

    async def replanned(self, plan_id: uuid.UUID, slots: list[TrackedSlot]) -> None:
        """A re-plan the student accepted: the workflow follows `slots` from now on."""
        ...

    async def status(self, plan_id: uuid.UUID) -> PlanTracking | None:
        """None when the workflow cannot answer now (no worker, no workflow)."""
        ...
