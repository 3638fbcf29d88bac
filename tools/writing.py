"""Tools that change the student's data.

Each takes `user_request`: the words of the student's current message that ask for this change.
The tool refuses unless those words really are in the message (`ToolContext.asked_for`), so
nothing changes on the model's own initiative or on instructions found in notes. Every change
made is added to `ToolContext.changes`, which the answer reports.
"""

import uuid
from datetime import datetime

from langchain_core.tools import ToolException, tool
from langgraph.prebuilt import ToolRuntime

from domain.goals.schemas import ProgressEventCreate
from domain.goals.service import GoalService
from domain.reminders.schemas import ReminderCreate
from domain.reminders.service import ReminderService
from domain.schedule.schemas import BlockKind, ScheduleBlockCreate
from domain.schedule.service import ScheduleService
from tools.context import ToolContext
from tools.reading import as_text

USER_REQUEST_DOC = (
    "user_request: the exact words of the student's current message asking for this change."
)
# Words one of which a request for each kind of change contains ("log 30 minutes on ...").
PROGRESS_VERBS = frozenset(
    {"log", "record", "add", "track", "mark", "save", "studied", "did", "spent", "finished"}
    | {"completed", "done"}
)
BLOCK_VERBS = frozenset(
    {"add", "schedule", "book", "block", "put", "plan", "create", "reserve", "set", "make"}
)
REMINDER_VERBS = frozenset({"remind", "reminder", "alert", "notify", "ping", "set"})


def _require_request(ctx: ToolContext, user_request: str, verbs: frozenset[str]) -> None:
    if not ctx.asked_for(user_request, verbs):
        raise ToolException(
            "Not done: changes need the student's request in their current message, quoted "
            "exactly in user_request. Ask the student whether they want this change."
        )


@tool(description=f"Record study progress on one of the student's goals. {USER_REQUEST_DOC}")
async def record_progress(
    goal_id: uuid.UUID,
    user_request: str,
    runtime: ToolRuntime[ToolContext],
    minutes: int = 0,
    modules_completed: int = 0,
    note: str | None = None,
) -> str:
    ctx = runtime.context
    _require_request(ctx, user_request, PROGRESS_VERBS)
    data = ProgressEventCreate(minutes=minutes, modules_completed=modules_completed, note=note)
    async with ctx.unit() as session:
        goals = GoalService(session, plan_tracker=ctx.plan_tracker)
        recorded = await goals.record_progress(ctx.user, goal_id, data)
    change = {
        "type": "goal_progress",
        "id": str(recorded.event.id),
        "goal_id": str(goal_id),
        "summary": f"Recorded {minutes} min, {modules_completed} module(s)",
    }
    ctx.changes.append(change)
    return as_text({"done": True, **change, "percent": recorded.goal.progress.percent})


@tool(
    description="Add a one-off block to the student's calendar. start and end are ISO 8601 "
    f"with a UTC offset. {USER_REQUEST_DOC}"
)
async def create_schedule_block(
    title: str,
    start: datetime,
    end: datetime,
    user_request: str,
    runtime: ToolRuntime[ToolContext],
    kind: BlockKind = "study",
) -> str:
    ctx = runtime.context
    _require_request(ctx, user_request, BLOCK_VERBS)
    data = ScheduleBlockCreate(title=title, start=start, end=end, kind=kind)
    async with ctx.unit() as session:
        block = await ScheduleService(session).create(ctx.user, data)
    change = {
        "type": "schedule_block",
        "id": str(block.id),
        "summary": f"Added '{title}' from {start.isoformat()} to {end.isoformat()}",
    }
    ctx.changes.append(change)
    return as_text({"done": True, **change, "conflicts": len(block.conflicts)})


@tool(
    description="Set a reminder for the student at remind_at (ISO 8601 with a UTC offset), "
    f"optionally about a schedule block or a goal. {USER_REQUEST_DOC}"
)
async def create_reminder(
    message: str,
    remind_at: datetime,
    user_request: str,
    runtime: ToolRuntime[ToolContext],
    schedule_block_id: uuid.UUID | None = None,
    goal_id: uuid.UUID | None = None,
) -> str:
    ctx = runtime.context
    _require_request(ctx, user_request, REMINDER_VERBS)
    data = ReminderCreate(
        message=message,
        remind_at=remind_at,
        schedule_block_id=schedule_block_id,
        goal_id=goal_id,
    )
    async with ctx.unit() as session:
        reminder = await ReminderService(session, ctx.reminder_timers).create(ctx.user, data)
    change = {
        "type": "reminder",
        "id": str(reminder.id),
        "summary": f"Reminder '{message}' at {remind_at.isoformat()}",
    }
    ctx.changes.append(change)
    return as_text({"done": True, **change})
