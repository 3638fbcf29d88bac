"""The student's calendar as the scheduler sees it: their rules and their busy time."""

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.plans.scheduler import Interval, SchedulingRules, WeeklyWindow
from domain.schedule.service import MAX_WINDOW_DAYS, ScheduleService
from domain.users.models import User
from domain.users.schemas import StudyPreferences


def scheduling_rules(
    user: User,
    first_day: date,
    last_day: date,
    now: datetime,
    minutes_per_day: int | None = None,
) -> SchedulingRules:
    """The user's study preferences as scheduling rules; `minutes_per_day` tightens their cap."""
    preferences = StudyPreferences.model_validate(user.study_preferences)
    caps = [cap for cap in (preferences.max_daily_minutes, minutes_per_day) if cap is not None]
    session_minutes = preferences.preferred_session_minutes
    return SchedulingRules(
        timezone=user.timezone,
        window_start=first_day,
        deadline=last_day,
        not_before=now,
        available_hours=tuple(
            WeeklyWindow(window.weekday, window.start, window.end)
            for window in preferences.available_hours
        ),
        session_minutes=session_minutes,
        min_session_minutes=min(15, session_minutes),
        break_minutes=preferences.break_minutes,
        max_daily_minutes=min(caps) if caps else None,
    )


async def busy_intervals(
    session: AsyncSession,
    user: User,
    first_day: date,
    last_day: date,
    exclude: frozenset[uuid.UUID] = frozenset(),
) -> list[Interval]:
    """Every occurrence of the user's blocks over those days, recurring ones expanded; the
    blocks in `exclude` (about to be replaced) aside."""
    schedule = ScheduleService(session)
    busy: list[Interval] = []
    chunk_start = first_day
    while chunk_start <= last_day:
        chunk_end = min(last_day, chunk_start + timedelta(days=MAX_WINDOW_DAYS - 1))
        listing = await schedule.list_occurrences(user, from_=chunk_start, to=chunk_end)
        busy.extend(
            Interval(item.start, item.end) for item in listing.items if item.block_id not in exclude
        )
        chunk_start = chunk_end + timedelta(days=1)
    return busy
