"""`read_schedule` and `find_free_time`: the calendar as the chat model sees it."""

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.tools import ToolException
from langgraph.prebuilt import ToolRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories.schedule import create_block
from tests.fixtures.factories.users import create_user
from tests.tools.test_tool_scoping import _call, _context
from tools.reading import read_schedule
from tools.scheduling import find_free_time

PARIS = ZoneInfo("Europe/Paris")
EVENINGS = [{"weekday": weekday, "start": "18:00", "end": "21:00"} for weekday in range(7)]


def _day(offset: int) -> date:
    return datetime.now(PARIS).date() + timedelta(days=offset)


def _at(offset: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(_day(offset), time(hour, minute), tzinfo=PARIS)


async def _student(session: AsyncSession) -> Any:
    preferences = {"available_hours": EVENINGS, "break_minutes": 10}
    return await create_user(session, timezone="Europe/Paris", study_preferences=preferences)


async def test_read_schedule_lists_the_students_occurrences_in_their_zone(
    db_session: AsyncSession,
) -> None:
    alice, bob = await _student(db_session), await _student(db_session)
    await create_block(db_session, alice, _at(1, 9), _at(1, 10), rrule="FREQ=DAILY;COUNT=5")
    await create_block(db_session, bob, _at(1, 11), _at(1, 12))

    listed = json.loads(
        await _call(read_schedule, _context(db_session, alice), from_date=_day(2), to_date=_day(3))
    )

    assert [(item["start"], item["end"]) for item in listed] == [
        (str(_at(2, 9)), str(_at(2, 10))),
        (str(_at(3, 9)), str(_at(3, 10))),
    ]


async def test_find_free_time_offers_slots_inside_study_hours_around_busy_time(
    db_session: AsyncSession,
) -> None:
    alice, bob = await _student(db_session), await _student(db_session)
    await create_block(db_session, alice, _at(1, 18), _at(1, 19))
    # Someone else's evening is not Alice's.
    await create_block(db_session, bob, _at(1, 19), _at(1, 21))

    slots = json.loads(
        await _call(
            find_free_time,
            _context(db_session, alice),
            from_date=_day(1),
            to_date=_day(1),
            minutes=45,
            count=5,
        )
    )

    # 19:00 after the block, then 19:55 after the break; 20:50 would run past 21:00.
    assert slots == [
        {"start": str(_at(1, 19)), "end": str(_at(1, 19, 45))},
        {"start": str(_at(1, 19, 55)), "end": str(_at(1, 20, 40))},
    ]


@pytest.mark.parametrize(
    ("minutes", "days", "message"),
    [(4, 0, "between 5 and 240"), (241, 0, "between 5 and 240"), (30, 31, "at most 31 days")],
)
async def test_find_free_time_refuses_odd_requests(
    db_session: AsyncSession, minutes: int, days: int, message: str
) -> None:
    alice = await _student(db_session)
    with pytest.raises(ToolException, match=message):
        await find_free_time.coroutine(  # type: ignore[attr-defined]
            from_date=_day(1),
            to_date=_day(1 + days),
            minutes=minutes,
            runtime=_runtime(_context(db_session, alice)),
        )


def _runtime(ctx: Any) -> Any:
    return ToolRuntime(
        state={}, context=ctx, config={}, stream_writer=lambda _: None, tool_call_id="t", store=None
    )
