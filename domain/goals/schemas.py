import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from core.schemas import StrictModel

GoalStatus = Literal["active", "paused", "completed", "abandoned"]

MAX_TARGET_MINUTES = 1_000_000
MAX_TARGET_MODULES = 10_000
MAX_EVENT_MINUTES = 24 * 60
MAX_EVENT_MODULES = 1_000
# Clients' clocks drift: a moment this close ahead of ours still counts as "now".
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def _no_nul(value: str) -> str:
    # Postgres text cannot store NUL; refusing it here keeps it a 422 instead of a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Description = Annotated[str, Field(max_length=20_000), AfterValidator(_no_nul)]
Note = Annotated[str, Field(max_length=2_000), AfterValidator(_no_nul)]
TargetMinutes = Annotated[int, Field(ge=1, le=MAX_TARGET_MINUTES)]
TargetModules = Annotated[int, Field(ge=1, le=MAX_TARGET_MODULES)]
TargetDate = Annotated[
    date,
    Field(
        description="Deadline, in the user's time zone. A date already past is accepted; "
        "the goal is then simply not on track until its target is met.",
    ),
]


def _not_in_future(value: datetime) -> datetime:
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("occurred_at cannot be in the future")
    if value < EARLIEST_OCCURRED_AT:
        raise ValueError("occurred_at must be after 2000-01-01")
    return value


class GoalCreate(StrictModel):
    """At most one of `target_minutes` and `target_modules`; a goal measures one or the other."""

    title: Title
    description: Description | None = None
    course_id: uuid.UUID | None = Field(
        default=None, description="A course you own or are enrolled in."
    )
    target_date: TargetDate | None = None
    target_minutes: TargetMinutes | None = None
    target_modules: TargetModules | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.target_minutes is not None and self.target_modules is not None:
            raise ValueError("set target_minutes or target_modules, not both")
        return self


class GoalUpdate(StrictModel):
    """Fields left out stay as they are. `null` clears description, course_id, target_date and
    either target. Setting one target clears the other, so a goal can switch what it measures.
    Setting status `completed` stamps `completed_at`; leaving `completed` clears it."""

    title: Title | None = None
    description: Description | None = None
    course_id: uuid.UUID | None = None
    target_date: TargetDate | None = None
    target_minutes: TargetMinutes | None = None
    target_modules: TargetModules | None = None
    status: GoalStatus | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("title", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.target_minutes is not None and self.target_modules is not None:
            raise ValueError("set target_minutes or target_modules, not both")
        return self


class GoalProgressRead(BaseModel):
    """Derived from the goal's progress events at read time; never stored."""

    percent: float = Field(
        ge=0,
        le=100,
        description="done / target x 100 for whichever target is set, clamped to 0..100 and "
        "rounded to 1 decimal. Without a target: 100 when completed, else 0.",
    )
    minutes_done: int = Field(ge=0, description="Sum of the events' minutes.")
    modules_done: int = Field(ge=0, description="Sum of the events' modules_completed.")
    streak_days: int = Field(
        ge=0,
        description="Consecutive days with at least one event, ending today or yesterday, "
        "counted in the user's time zone.",
    )
    on_track: bool = Field(
        description="completed: true. abandoned: false. Target reached: true. No target_date: "
        "true while active. Past target_date and not reached: false. Otherwise, with a target: "
        "done >= target x (days since the goal was created / days from creation to "
        "target_date), as of today in the user's time zone; without one: true while active."
    )


class GoalRead(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    course_id: uuid.UUID | None
    target_date: date | None
    target_minutes: int | None
    target_modules: int | None
    status: GoalStatus
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    progress: GoalProgressRead


class ProgressEventCreate(StrictModel):
    """At least one of `minutes` and `modules_completed` must be above zero."""

    minutes: int = Field(default=0, ge=0, le=MAX_EVENT_MINUTES)
    modules_completed: int = Field(default=0, ge=0, le=MAX_EVENT_MODULES)
    note: Note | None = None
    occurred_at: Annotated[AwareDatetime, AfterValidator(_not_in_future)] | None = Field(
        default=None,
        description="When the study happened, with a UTC offset; omitted: now. Not in the future.",
    )

    @model_validator(mode="after")
    def _some_progress(self) -> Self:
        if self.minutes <= 0 and self.modules_completed <= 0:
            raise ValueError("record minutes or modules_completed above zero")
        return self


class ProgressEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    goal_id: uuid.UUID
    minutes: int
    modules_completed: int
    note: str | None
    occurred_at: datetime
    created_at: datetime


class ProgressRecorded(BaseModel):
    event: ProgressEventRead
    goal: GoalRead = Field(description="The goal with its progress including this event.")


class ProgressUpdated(BaseModel):
    """The `progress.updated` realtime event: a goal's derived progress after a new entry."""

    goal_id: uuid.UUID
    title: str
    status: GoalStatus
    progress: GoalProgressRead
    event: ProgressEventRead = Field(description="The progress entry that changed it.")
