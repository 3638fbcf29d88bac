import uuid
from datetime import datetime

from pydantic import BaseModel

from domain.plans.replan import ReplanDraft
from domain.plans.tracking import PlanTrack, TrackingStatus


def workflow_id(plan_id: uuid.UUID) -> str:
    return f"plan-{plan_id}"


class PlanState(BaseModel):
    """Everything the workflow knows; carried over whole when it continues as new."""

    track: PlanTrack
    grace_seconds: float
    status: TrackingStatus = "active"
    progress_at: list[datetime] = []
    minutes_done: int = 0
    checked_blocks: list[uuid.UUID] = []
    missed_sessions: int = 0
    replans: int = 0
    goal_completed: bool = False
    cancelled: bool = False


class RedraftRequest(BaseModel):
    plan_id: uuid.UUID
    missed_block_ids: list[uuid.UUID]


class ReplanRequest(RedraftRequest):
    # None in histories from before the agent re-plan: the owed sessions are placed again.
    draft: ReplanDraft | None = None
