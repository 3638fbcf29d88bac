"""Eval cases: YAML files under `evals/cases/<suite>/`, versioned with the prompts they judge.

A file holds named `worlds` (what two users own: the student and an intruder whose data must
never reach the model) and `cases`, each naming a world (optionally adding to it), the input,
the scripted model's turn (used when no live model runs) and the expectations. Objects are
referred to by handle (`note:derivatives`, `goal:exam`), resolved to ids once the world is built.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.resources.schemas import ResourceType
from domain.schedule.schemas import BlockKind

CASES_DIR = Path(__file__).parent / "cases"
Suite = Literal["chat", "summary", "plan", "recommend"]
SUITES: tuple[Suite, ...] = ("chat", "summary", "plan", "recommend")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModuleSpec(Strict):
    title: str
    minutes: int | None = None
    content: str | None = None
    done: bool = False  # completed by the course's user (owner, or enrolled student)


class CourseSpec(Strict):
    handle: str
    title: str
    description: str | None = None
    public: bool = False
    modules: list[ModuleSpec] = []


class GoalSpec(Strict):
    handle: str
    title: str
    description: str | None = None
    course: str | None = None  # a course handle
    target_minutes: int | None = None
    target_modules: int | None = None
    due_in_days: int | None = None
    minutes_done: int = 0


class NoteSpec(Strict):
    handle: str
    title: str
    body: str = ""
    course: str | None = None
    tags: list[str] = []


class ResourceSpec(Strict):
    handle: str
    title: str
    type: ResourceType = "article"
    url: str | None = None
    description: str | None = None
    tags: list[str] = []
    course: str | None = None


class BlockSpec(Strict):
    title: str
    day: int = Field(description="Days from today, in the user's zone.")
    at: str = Field(description="Local start time, HH:MM.")
    minutes: int = 60
    kind: BlockKind = "class"
    weekly: bool = False


class UserWorld(Strict):
    name: str
    email: str
    timezone: str = "UTC"
    preferences: dict[str, Any] = {}
    courses: list[CourseSpec] = []
    enrolled: list[str] = []  # handles of the other user's public courses
    goals: list[GoalSpec] = []
    notes: list[NoteSpec] = []
    resources: list[ResourceSpec] = []
    blocks: list[BlockSpec] = []


class World(Strict):
    student: UserWorld
    intruder: UserWorld

    def extended(self, extra: "WorldExtra | None") -> "World":
        if extra is None:
            return self
        return World(
            student=_merge(self.student, extra.student),
            intruder=_merge(self.intruder, extra.intruder),
        )


class UserExtra(Strict):
    courses: list[CourseSpec] = []
    enrolled: list[str] = []
    goals: list[GoalSpec] = []
    notes: list[NoteSpec] = []
    resources: list[ResourceSpec] = []
    blocks: list[BlockSpec] = []
    preferences: dict[str, Any] = {}


class WorldExtra(Strict):
    student: UserExtra = UserExtra()
    intruder: UserExtra = UserExtra()


def _merge(base: UserWorld, extra: UserExtra) -> UserWorld:
    return base.model_copy(
        update={
            "courses": [*base.courses, *extra.courses],
            "enrolled": [*base.enrolled, *extra.enrolled],
            "goals": [*base.goals, *extra.goals],
            "notes": [*base.notes, *extra.notes],
            "resources": [*base.resources, *extra.resources],
            "blocks": [*base.blocks, *extra.blocks],
            "preferences": {**base.preferences, **extra.preferences},
        }
    )


class ScriptStep(Strict):
    """One model step of the scripted model: tool calls, or the answer (`say`)."""

    call: list[dict[str, Any]] | None = None  # [{name, args}]
    say: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "ScriptStep":
        if (self.call is None) == (self.say is None):
            raise ValueError("a script step is either `call` or `say`")
        return self


class Turn(Strict):
    message: str
    script: list[ScriptStep] = []


class ToolExpectation(Strict):
    match: Literal["strict", "unordered", "subset", "superset"] = "strict"
    # [{name, args: {arg: rule}}]; a rule is a literal, "@handle", "~substring" or "*".
    calls: list[dict[str, Any]] = []


class Expectations(Strict):
    tools: ToolExpectation | None = None
    cites: list[str] = []  # handles that must be cited
    says: list[str] = []  # substrings (case-insensitive) the answer contains
    never_says: list[str] = []
    changes: list[str] = []  # change types the turn must make (goal_progress, ...)
    facts: list[str] = []  # summary: key facts (substrings) the summary covers
    min_facts: float = 1.0  # share of facts that must be covered
    relevant: list[str] = []  # recommend: handles of relevant resources
    nothing_relevant: bool = False  # recommend: the honest answer is no pick
    fits: bool | None = None  # plan: whether everything should fit
    sessions_min: int | None = None
    error: str | None = None  # the error code the agent must answer with (e.g. not_found)


class Case(Strict):
    id: str
    suite: Suite
    description: str = ""
    tags: list[str] = []
    world: str
    extra: WorldExtra | None = None
    # chat
    turns: list[Turn] = []
    refs: list[str] = []  # context_refs handles (attached to the first turn)
    # summary: note or course handle; plan: goal or course handle; recommend: context handles
    subject: str | None = None
    length: Literal["short", "medium", "long"] = "medium"
    minutes_per_day: int | None = None
    days: int | None = None
    limit: int = 3
    activity: str | None = None
    expect: Expectations = Expectations()


class CaseFile(Strict):
    worlds: dict[str, World] = {}
    cases: list[dict[str, Any]] = []


class LoadedCase(Strict):
    case: Case
    world: World


def load_suite(
    suite: Suite, pattern: str | None = None, root: Path = CASES_DIR
) -> list[LoadedCase]:
    """Every case of `suite`, in file then listed order; `pattern` filters ids (fnmatch)."""
    from fnmatch import fnmatchcase

    loaded: list[LoadedCase] = []
    seen: set[str] = set()
    for path in sorted((root / suite).glob("*.yaml")):
        content = CaseFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
        worlds = {**_shared_worlds(root), **content.worlds}
        for raw in content.cases:
            case = Case.model_validate({"suite": suite, **raw})
            if case.id in seen:
                raise ValueError(f"{path.name}: case id {case.id!r} is used twice")
            seen.add(case.id)
            if case.world not in worlds:
                raise ValueError(
                    f"{path.name}: case {case.id!r} names unknown world {case.world!r}"
                )
            if pattern and not fnmatchcase(case.id, pattern):
                continue
            loaded.append(LoadedCase(case=case, world=worlds[case.world].extended(case.extra)))
    return loaded


def _shared_worlds(root: Path) -> dict[str, World]:
    path = root / "worlds.yaml"
    if not path.exists():
        return {}
    content = CaseFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
    return content.worlds
