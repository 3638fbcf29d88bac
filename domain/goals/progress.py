"""Goal progress derived from its events: pure functions, no database, "today" always passed in.

The repository aggregates a page of goals in one query (sums and distinct local days); these
functions turn those aggregates into what clients see, so the rules are testable on their own.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.users.schemas import IANA_ZONE_NAMES

ACTIVE = "active"
PAUSED = "paused"
COMPLETED = "completed"
ABANDONED = "abandoned"


@dataclass(frozen=True)
class ProgressTotals:
    """A goal's events, aggregated: sums, and the days (in the user's zone) with any event."""

    minutes: int = 0
    modules: int = 0
    active_days: frozenset[date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class GoalProgress:
    percent: float
    minutes_done: int
    modules_done: int
    streak_days: int
    on_track: bool


@dataclass(frozen=True)
class GoalPlan:
    """The parts of a goal its progress depends on."""

    status: str
    started_on: date
    target_date: date | None = None
    target_minutes: int | None = None
    target_modules: int | None = None


def user_zone(name: str) -> ZoneInfo:
    # Zones are validated when a user sets them; a stale or non-IANA name (one Postgres's
    # `AT TIME ZONE` would reject) must not break every goal read, so it reads as UTC.
    return ZoneInfo(name) if name in IANA_ZONE_NAMES else ZoneInfo("UTC")


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def _target_and_done(plan: GoalPlan, totals: ProgressTotals) -> tuple[int, int] | None:
    if plan.target_minutes is not None:
        return plan.target_minutes, totals.minutes
    if plan.target_modules is not None:
        return plan.target_modules, totals.modules
    return None


def percent_done(plan: GoalPlan, totals: ProgressTotals) -> float:
    measured = _target_and_done(plan, totals)
    if measured is None:
        # Nothing to measure against: the status is the only signal of being done.
        return 100.0 if plan.status == COMPLETED else 0.0
    target, done = measured
    return round(min(max(done / target * 100, 0.0), 100.0), 1)


def streak_days(active_days: Iterable[date], today: date) -> int:
    """Consecutive days with an event, ending today or yesterday (a streak survives until the
    end of the day after the last event)."""
    days = {day for day in active_days if day <= today}
    current = today if today in days else today - timedelta(days=1)
    streak = 0
    while current in days:
        streak += 1
        current -= timedelta(days=1)
    return streak


def on_track(plan: GoalPlan, totals: ProgressTotals, today: date) -> bool:
    if plan.status == COMPLETED:
        return True
    if plan.status == ABANDONED:
        return False
    measured = _target_and_done(plan, totals)
    if measured is not None and measured[1] >= measured[0]:
        return True
    if plan.target_date is None:
        # No deadline to fall behind: on track as long as the goal is being pursued.
        return plan.status == ACTIVE
    if today > plan.target_date:
        return False
    if measured is None:
        return plan.status == ACTIVE
    target, done = measured
    # Pausing does not stop the calendar: the expectation grows linearly from the day the goal
    # was created to its target date.
    span = max((plan.target_date - plan.started_on).days, 1)
    elapsed = min(max((today - plan.started_on).days, 0), span)
    return done * span >= target * elapsed


def derive_progress(plan: GoalPlan, totals: ProgressTotals, today: date) -> GoalProgress:
    return GoalProgress(
        percent=percent_done(plan, totals),
        minutes_done=totals.minutes,
        modules_done=totals.modules,
        streak_days=streak_days(totals.active_days, today),
        on_track=on_track(plan, totals, today),
    )
