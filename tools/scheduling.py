"""The free-time tool: the same scheduler that places study plans, asked for open slots."""

from dataclasses import replace
from datetime import UTC, date, datetime

from langchain_core.tools import ToolException, tool
from langgraph.prebuilt import ToolRuntime

from domain.plans.calendar import busy_intervals, scheduling_rules
from domain.plans.scheduler import SessionRequest, place_sessions
from tools.context import ToolContext
from tools.reading import as_text

MAX_SLOTS = 10
MAX_RANGE_DAYS = 31


@tool
async def find_free_time(
    from_date: date,
    to_date: date,
    minutes: int,
    runtime: ToolRuntime[ToolContext],
    count: int = 5,
) -> str:
    """Open slots of `minutes` in the student's calendar between two dates (inclusive, their
    time zone), inside their available study hours and clear of every scheduled block."""
    ctx = runtime.context
    if not 5 <= minutes <= 240:
        raise ToolException("minutes must be between 5 and 240")
    if to_date < from_date or (to_date - from_date).days >= MAX_RANGE_DAYS:
        raise ToolException(f"to_date must be after from_date, at most {MAX_RANGE_DAYS} days")
    # Slots of exactly `minutes`: one sitting each, never split.
    rules = replace(
        scheduling_rules(ctx.user, from_date, to_date, datetime.now(UTC)),
        session_minutes=minutes,
        min_session_minutes=minutes,
    )
    async with ctx.unit() as session:
        busy = await busy_intervals(session, ctx.user, from_date, to_date)
    wanted = [SessionRequest("free", minutes)] * max(1, min(count, MAX_SLOTS))
    placement = place_sessions(wanted, busy, rules)
    zone = rules.zone
    return as_text(
        [
            {"start": slot.start.astimezone(zone), "end": slot.end.astimezone(zone)}
            for slot in placement.slots
        ]
    )
