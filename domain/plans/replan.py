"""What a re-plan is: after missed sessions, the plan agent may redraft WHAT is left to study
(given the progress so far and what was missed); the scheduler always decides WHEN.

The model's part arrives as a `ReplanDraft`, a typed value the plan's workflow carries from the
agent's activity to the one that writes. A draft without sessions (no model configured, the
model unreachable, its answer unusable) is not an error: the owed sessions are then placed again
as they were, and the student is told which of the two happened and why.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from domain.plans.briefs import DraftedSession, PlanBrief
from domain.plans.schemas import MAX_PLAN_SESSIONS, MAX_SESSION_MINUTES, MIN_SESSION_MINUTES

NO_MODEL = (
    "No language model is configured, so the sessions you owe were placed again as they were."
)
MODEL_UNREACHABLE = (
    "The language model could not be reached, so the sessions you owe were placed again as "
    "they were."
)
MODEL_UNUSABLE = (
    "The language model's redraft could not be used, so the sessions you owe were placed again "
    "as they were."
)


@dataclass(frozen=True)
class OwedSession:
    """A session of the plan with sittings still to do (missed, or ahead)."""

    title: str
    objective: str
    minutes: int
    module_id: uuid.UUID | None


@dataclass(frozen=True)
class ReplanBrief(PlanBrief):
    """The plan brief, from today to the plan's last day, with what happened so far."""

    missed_sessions: int
    done: list[str]
    owed: list[OwedSession]
    minutes_owed: int


@dataclass(frozen=True)
class ReplanAsk:
    """What the agent's activity reads in its first unit of work: whose plan, and the brief."""

    user_id: uuid.UUID
    brief: ReplanBrief


class RedraftedSession(BaseModel):
    title: str
    objective: str
    minutes: int = Field(ge=MIN_SESSION_MINUTES, le=MAX_SESSION_MINUTES)
    module_id: uuid.UUID | None = None
    preferred_start: datetime | None = None

    @classmethod
    def of(cls, session: DraftedSession) -> "RedraftedSession":
        return cls(
            title=session.title,
            objective=session.objective,
            minutes=session.minutes,
            module_id=session.module_id,
            preferred_start=session.preferred_start,
        )


class ReplanDraft(BaseModel):
    """The agent's redraft of what is left (`sessions`), or why there is none."""

    sessions: list[RedraftedSession] | None = Field(default=None, max_length=MAX_PLAN_SESSIONS)
    model: str | None = None
    prompt_version: str | None = None
    fallback_reason: str | None = None

    @classmethod
    def without_model(cls, reason: str) -> "ReplanDraft":
        return cls(fallback_reason=reason)

    @property
    def usable(self) -> bool:
        return bool(self.sessions)


def replan_notice(
    plan_title: str,
    missed: int,
    minutes_owed: int,
    draft: ReplanDraft | None,
    minutes_placed: int,
    sittings: int,
    minutes_short: int,
) -> str:
    """What the student is told: what they missed, what changed, and why."""
    opening = f"You missed {missed} session(s) of {plan_title}, so "
    if draft is not None and draft.usable:
        change = (
            f"the {minutes_owed} minutes still to do were redrafted by the plan assistant into "
            f"{len(draft.sessions or [])} session(s) of {minutes_placed + minutes_short} minutes, "
            f"placed in your free time: {sittings} sitting(s)"
        )
    else:
        change = (
            f"the {minutes_owed} minutes still to do were placed again in your free time: "
            f"{sittings} sitting(s)"
        )
    ending = (
        "."
        if minutes_short == 0
        else f", {minutes_short} minutes short: not everything fits before the plan ends."
    )
    reason = f" {draft.fallback_reason}" if draft is not None and draft.fallback_reason else ""
    return opening + change + ending + reason
