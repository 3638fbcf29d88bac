"""The plan graph with a scripted model: what it sends, and what survives of the draft."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agents.llm import provider_errors
from agents.plan import DRAFT_PROMPT, build_plan_graph, draft_sessions
from agents.plan.nodes import MAX_SESSIONS
from agents.plan.state import PlanContext
from core.errors import LLMProviderError
from domain.plans.briefs import (
    DraftedSession,
    PlanBrief,
    PlanCourse,
    PlanGoal,
    PlanModule,
    PlanWindow,
)
from prompts import load_prompt
from tests.fixtures.llm import ScriptedChatModel, scripted, tool_call

PROMPT = load_prompt(DRAFT_PROMPT)
TOOL = "StudyPlanDraft"
PARIS = ZoneInfo("Europe/Paris")
LIMITS = uuid.UUID("00000000-0000-4000-8000-000000000001")
DERIVATIVES = uuid.UUID("00000000-0000-4000-8000-000000000002")
BRIEF = PlanBrief(
    goal=PlanGoal(
        title="Pass the calculus exam",
        description="Written exam, 3 hours",
        target_date=date(2031, 6, 20),
        target_minutes=600,
        target_modules=None,
        minutes_done=120,
        modules_done=0,
    ),
    course=PlanCourse(
        title="Calculus I",
        description="Limits and derivatives",
        modules=[
            PlanModule(LIMITS, "Limits", 90, completed=True),
            PlanModule(DERIVATIVES, "Derivatives", None, completed=False),
        ],
    ),
    remaining_minutes=480,
    window=PlanWindow(
        timezone="Europe/Paris",
        today=date(2031, 6, 1),
        start_date=date(2031, 6, 2),
        end_date=date(2031, 6, 15),
        minutes_per_day=90,
        session_minutes=45,
    ),
)


def session(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"title": "Derivatives", "minutes": 45, "objective": "Derive."}
    return values | overrides


def drafting(*sessions: dict[str, Any]) -> ScriptedChatModel:
    return scripted(tool_call(TOOL, sessions=list(sessions)))


async def run(model: ScriptedChatModel, brief: PlanBrief = BRIEF) -> list[DraftedSession]:
    result = await build_plan_graph().ainvoke({"brief": brief}, context=PlanContext(model, PROMPT))
    sessions: list[DraftedSession] = result["sessions"]
    return sessions


async def test_the_draft_comes_back_in_order_with_its_modules_and_hints() -> None:
    model = drafting(
        session(
            title="Derivative rules",
            module_id=str(DERIVATIVES),
            minutes=60,
            objective="Apply the product and chain rules.",
            preferred_start="2031-06-03T18:00",
        ),
        session(title="Mixed review", minutes=30, objective="Solve past exam questions."),
    )
    assert await run(model) == [
        DraftedSession(
            title="Derivative rules",
            objective="Apply the product and chain rules.",
            minutes=60,
            module_id=DERIVATIVES,
            preferred_start=datetime(2031, 6, 3, 18, 0, tzinfo=PARIS),
        ),
        DraftedSession(title="Mixed review", objective="Solve past exam questions.", minutes=30),
    ]


async def test_module_ids_outside_the_course_are_dropped() -> None:
    model = drafting(
        session(module_id=str(uuid.uuid4())),
        session(module_id="module-2"),
        session(module_id=f"  {str(LIMITS).upper()} "),
        session(module_id=""),
    )
    assert [s.module_id for s in await run(model)] == [None, None, LIMITS, None]


async def test_a_plan_without_a_course_keeps_no_module() -> None:
    brief = PlanBrief(goal=BRIEF.goal, course=None, remaining_minutes=480, window=BRIEF.window)
    model = drafting(session(module_id=str(DERIVATIVES)))
    assert [s.module_id for s in await run(model, brief)] == [None]


async def test_hints_are_kept_only_as_date_times_inside_the_window() -> None:
    model = drafting(
        session(preferred_start="2031-06-15T20:30:00+00:00"),
        session(preferred_start="2031-06-16T09:00"),
        session(preferred_start="2031-06-01T23:00"),
        session(preferred_start="tomorrow evening"),
        session(preferred_start="0001-01-01T00:00:00+05:00"),
        session(preferred_start="2031-06-02"),
    )
    assert [s.preferred_start for s in await run(model)] == [
        datetime(2031, 6, 15, 20, 30, tzinfo=UTC),
        None,
        None,
        None,
        None,
        # A bare date reads as its local midnight, which is inside the window.
        datetime(2031, 6, 2, tzinfo=PARIS),
    ]


async def test_a_hint_with_an_offset_is_kept_as_that_instant() -> None:
    model = drafting(session(preferred_start="2031-06-02T23:30:00-05:00"))
    [drafted] = await run(model)
    # 04:30 on 3 June in Paris: inside the window whatever the offset it was written with.
    assert drafted.preferred_start == datetime(
        2031, 6, 2, 23, 30, tzinfo=timezone(-timedelta(hours=5))
    )
    assert drafted.preferred_start.astimezone(PARIS).date() == date(2031, 6, 3)


async def test_text_is_one_line_without_nul_and_a_blank_title_is_named() -> None:
    model = drafting(
        session(title="  Derivatives\n\tpart\x00 1 ", objective="Line one.\nLine two."),
        session(title="   ", module_id=str(DERIVATIVES)),
        session(title="\n", module_id=None),
        session(title="x" * 500, objective="y" * 5000),
    )
    drafted = await run(model)
    assert [(s.title, s.objective) for s in drafted[:3]] == [
        ("Derivatives part 1", "Line one. Line two."),
        ("Derivatives", "Derive."),
        ("Study session 3", "Derive."),
    ]
    assert (len(drafted[3].title), len(drafted[3].objective)) == (200, 1000)


async def test_a_long_draft_is_cut_to_the_session_cap() -> None:
    model = drafting(*(session(title=f"Part {n}") for n in range(MAX_SESSIONS + 5)))
    drafted = await run(model)
    assert len(drafted) == MAX_SESSIONS
    assert drafted[-1].title == f"Part {MAX_SESSIONS - 1}"


def twice(reply: AIMessage | str) -> ScriptedChatModel:
    """The same unusable answer, first and after the repair request."""
    return scripted(reply, reply)


async def test_an_empty_draft_is_a_bad_response() -> None:
    empty = tool_call(TOOL, sessions=[])
    with pytest.raises(OutputParserException, match="at least 1 item"):
        await run(twice(empty))
    with pytest.raises(LLMProviderError) as raised, provider_errors():
        await run(twice(empty))
    assert raised.value.status_code == 502
    assert raised.value.code == "llm_bad_response"


async def test_a_text_answer_is_a_bad_response() -> None:
    with pytest.raises(OutputParserException, match="did not call StudyPlanDraft"):
        await run(twice("Study a bit every day."))


@pytest.mark.parametrize("minutes", [9, 241])
async def test_minutes_outside_ten_to_240_are_a_malformed_draft(minutes: int) -> None:
    bad = tool_call(TOOL, sessions=[session(minutes=minutes)])
    with pytest.raises(OutputParserException, match="minutes"):
        await run(twice(bad))
    with pytest.raises(LLMProviderError), provider_errors():
        await run(twice(bad))


async def test_a_draft_under_another_tool_name_is_refused() -> None:
    model = twice(tool_call("SomethingElse", sessions=[session()]))
    with pytest.raises(OutputParserException):
        await run(model)


async def test_one_unusable_answer_is_repaired_with_the_error_fed_back() -> None:
    model = scripted(
        tool_call(TOOL, sessions=[session(minutes=500)]),
        tool_call(TOOL, sessions=[session(minutes=60)]),
    )
    drafted = await run(model)
    assert [d.minutes for d in drafted] == [60]
    first, repair = model.received
    assert repair[: len(first)] == first
    [said] = repair[len(first) :]
    assert isinstance(said, HumanMessage)
    assert "could not be used" in str(said.content)
    assert "sessions.0.minutes" in str(said.content)
    assert '"minutes": 500' in str(said.content)


async def test_sends_the_rules_apart_from_the_data() -> None:
    model = drafting(session())
    await draft_sessions(model, PROMPT, BRIEF, callbacks=[])
    [messages] = model.received
    system, human = messages
    assert isinstance(system, SystemMessage)
    assert system.content == PROMPT.render(max_sessions=200, min_minutes=10, max_minutes=240)
    assert "$" not in str(system.content)
    assert isinstance(human, HumanMessage)
    assert json.loads(str(human.content)) == {
        "goal": {
            "title": "Pass the calculus exam",
            "description": "Written exam, 3 hours",
            "target_date": "2031-06-20",
            "target_minutes": 600,
            "target_modules": None,
            "minutes_done": 120,
            "modules_done": 0,
        },
        "course": {
            "title": "Calculus I",
            "description": "Limits and derivatives",
            "modules": [
                {"id": str(LIMITS), "title": "Limits", "estimated_minutes": 90, "completed": True},
                {
                    "id": str(DERIVATIVES),
                    "title": "Derivatives",
                    "estimated_minutes": None,
                    "completed": False,
                },
            ],
            # The course's documents' headings, for a course without modules.
            "outline": [],
        },
        "remaining_minutes": 480,
        "window": {
            "timezone": "Europe/Paris",
            "today": "2031-06-01",
            "start_date": "2031-06-02",
            "end_date": "2031-06-15",
            "minutes_per_day": 90,
            "session_minutes": 45,
        },
    }
