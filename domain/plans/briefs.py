"""What the plan agent is told (the brief) and what it answers (drafted sessions): the plan
rules and the agent share these shapes."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class PlanModule:
    id: uuid.UUID
    title: str
    estimated_minutes: int | None
    completed: bool


@dataclass(frozen=True)
class PlanCourse:
    title: str
    description: str | None
    modules: list[PlanModule]
    # Without modules: the sections of the student's documents for the course, in order.
    outline: list[str] = field(default_factory=list)

    def module_ids(self) -> set[uuid.UUID]:
        return {module.id for module in self.modules}


@dataclass(frozen=True)
class PlanGoal:
    title: str
    description: str | None
    target_date: date | None
    target_minutes: int | None
    target_modules: int | None
    minutes_done: int
    modules_done: int


@dataclass(frozen=True)
class PlanWindow:
    timezone: str
    today: date
    start_date: date
    end_date: date
    minutes_per_day: int | None  # the tighter of the request's and the preferences' caps
    session_minutes: int  # longer sessions are split into sittings of at most this


@dataclass(frozen=True)
class PlanBrief:
    """What the model is told: the subject, its modules, the work left and the window."""

    goal: PlanGoal | None
    course: PlanCourse | None
    remaining_minutes: int | None
    window: PlanWindow

    def module_ids(self) -> set[uuid.UUID]:
        return self.course.module_ids() if self.course else set()


@dataclass(frozen=True)
class DraftedSession:
    """One session of a checked draft: its module, if any, belongs to the brief's course."""

    title: str
    objective: str
    minutes: int
    module_id: uuid.UUID | None = None
    preferred_start: datetime | None = None  # aware; a hint the scheduler takes only if legal


class PlanDrafter(Protocol):
    """What decides the sessions (the plan agent); the service decides when they happen."""

    @property
    def model_name(self) -> str: ...

    @property
    def prompt_version(self) -> str: ...

    async def draft(self, brief: PlanBrief) -> list[DraftedSession]: ...
