"""The plan graph's steps: the model drafts sessions, then the draft is checked."""

import json
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agents.plan.state import (
    MAX_SESSION_MINUTES,
    MIN_SESSION_MINUTES,
    DraftSession,
    PlanContext,
    PlanState,
    StudyPlanDraft,
)
from agents.structured import structured_answer
from domain.plans.briefs import DraftedSession, PlanBrief, PlanWindow
from domain.plans.schemas import MAX_PLAN_SESSIONS

MAX_SESSIONS = MAX_PLAN_SESSIONS

# Column limits of plan_sessions, and a bound on what a calendar entry shows.
MAX_TITLE_CHARS = 200
MAX_OBJECTIVE_CHARS = 1_000


async def draft(state: PlanState, *, runtime: Runtime[PlanContext]) -> dict[str, Any]:
    context = runtime.context
    # No config passed: the run's callbacks reach these calls through the node's context
    # (contextvars).
    answer = await structured_answer(
        context.model,
        StudyPlanDraft,
        [
            SystemMessage(
                context.prompt.render(
                    max_sessions=MAX_SESSIONS,
                    min_minutes=MIN_SESSION_MINUTES,
                    max_minutes=MAX_SESSION_MINUTES,
                )
            ),
            # Titles and descriptions are the student's text: sent as data, apart from the rules.
            HumanMessage(json.dumps(asdict(state["brief"]), ensure_ascii=False, default=str)),
        ],
        context.method,
    )
    return {"draft": answer.sessions}


def validate(state: PlanState) -> dict[str, Any]:
    """Keep what can be scheduled: the first MAX_SESSIONS sessions, module ids of the course
    only, hints inside the window, text that fits a calendar entry."""
    brief = state["brief"]
    sessions = [
        _checked(session, position, brief)
        for position, session in enumerate(state.get("draft", [])[:MAX_SESSIONS])
    ]
    if not sessions:
        raise OutputParserException("The model drafted no sessions.")
    return {"sessions": sessions}


def _checked(session: DraftSession, position: int, brief: PlanBrief) -> DraftedSession:
    module_id = _module_id(session.module_id, brief)
    title = _one_line(session.title)[:MAX_TITLE_CHARS]
    if not title:
        title = _module_title(module_id, brief) or f"Study session {position + 1}"
    return DraftedSession(
        title=title,
        objective=_one_line(session.objective)[:MAX_OBJECTIVE_CHARS],
        minutes=session.minutes,
        module_id=module_id,
        preferred_start=_hint(session.preferred_start, brief.window),
    )


def _one_line(text: str) -> str:
    # Postgres text cannot hold NUL; whitespace runs and line breaks do not belong in a title.
    return " ".join(text.replace("\x00", "").split())


def _module_id(raw: str | None, brief: PlanBrief) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        module_id = uuid.UUID(raw.strip())
    except ValueError:
        return None
    return module_id if module_id in brief.module_ids() else None


def _module_title(module_id: uuid.UUID | None, brief: PlanBrief) -> str | None:
    modules = brief.course.modules if brief.course else []
    return next((module.title for module in modules if module.id == module_id), None)


def _hint(raw: str | None, window: PlanWindow) -> datetime | None:
    """The hint as an aware instant, a wall time read in the user's zone; None when it is not a
    date-time inside the window (the scheduler could never honour it)."""
    if not raw:
        return None
    zone = ZoneInfo(window.timezone)
    try:
        value = datetime.fromisoformat(raw.strip())
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=zone)
        local_day = value.astimezone(zone).date()
    except (ValueError, OverflowError):
        return None
    return value if window.start_date <= local_day <= window.end_date else None
