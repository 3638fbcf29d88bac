"""Progress derivation on its own: "today" is always passed in, so every case is deterministic."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.goals.progress import (
    GoalPlan,
    ProgressTotals,
    derive_progress,
    local_date,
    on_track,
    percent_done,
    streak_days,
    user_zone,
)

TODAY = date(2025, 3, 20)


def plan(**overrides: object) -> GoalPlan:
    values: dict[str, object] = {"status": "active", "started_on": date(2025, 3, 10)}
    values.update(overrides)
    return GoalPlan(**values)  # type: ignore[arg-type]


def days_ago(*offsets: int) -> frozenset[date]:
    return frozenset(TODAY - timedelta(days=n) for n in offsets)


@pytest.mark.parametrize(
    ("done", "expected"),
    [(0, 0.0), (1, 0.3), (100, 33.3), (150, 50.0), (300, 100.0), (900, 100.0)],
)
def test_percent_of_a_minutes_target_is_rounded_and_clamped(done: int, expected: float) -> None:
    assert percent_done(plan(target_minutes=300), ProgressTotals(minutes=done)) == expected


def test_percent_of_a_modules_target_ignores_minutes() -> None:
    totals = ProgressTotals(minutes=10_000, modules=2)
    assert percent_done(plan(target_modules=8), totals) == 25.0


@pytest.mark.parametrize(("status", "expected"), [("completed", 100.0), ("active", 0.0)])
def test_percent_without_a_target_follows_the_status(status: str, expected: float) -> None:
    assert percent_done(plan(status=status), ProgressTotals(minutes=500, modules=3)) == expected


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ((), 0),
        ((0,), 1),
        ((0, 1, 2), 3),
        ((1, 2, 3, 4), 4),  # nothing yet today: a streak ending yesterday still counts
        ((2, 3, 4), 0),  # a whole day missed breaks it
        ((0, 1, 3, 4, 5), 2),  # only the run reaching today counts
    ],
)
def test_streak_counts_consecutive_days_ending_today_or_yesterday(
    offsets: tuple[int, ...], expected: int
) -> None:
    assert streak_days(days_ago(*offsets), TODAY) == expected


def test_streak_ignores_days_after_today() -> None:
    assert streak_days(days_ago(0, -1), TODAY) == 1


def test_local_date_uses_the_users_zone_near_midnight() -> None:
    # 23:30 in Los Angeles (UTC-7 in summer) is already the next day in UTC.
    late_evening = datetime(2025, 7, 1, 6, 30, tzinfo=UTC)
    assert local_date(late_evening, ZoneInfo("America/Los_Angeles")) == date(2025, 6, 30)
    assert local_date(late_evening, ZoneInfo("UTC")) == date(2025, 7, 1)
    # Just after local midnight in Tokyo (UTC+9) is still the previous day in UTC.
    just_after_midnight = datetime(2025, 7, 1, 15, 5, tzinfo=UTC)
    assert local_date(just_after_midnight, ZoneInfo("Asia/Tokyo")) == date(2025, 7, 2)


def test_an_unknown_stored_zone_falls_back_to_utc() -> None:
    assert user_zone("Not/AZone").key == "UTC"
    assert user_zone("localtime").key == "UTC"
    assert user_zone("Europe/Paris").key == "Europe/Paris"


# Started on the 10th, due on the 30th: on the 20th, half the span has passed.
DEADLINE = date(2025, 3, 30)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(200, True), (150, True), (149, False), (0, False)],
)
def test_on_track_compares_against_the_linear_expectation(minutes: int, expected: bool) -> None:
    goal = plan(target_minutes=300, target_date=DEADLINE)
    assert on_track(goal, ProgressTotals(minutes=minutes), TODAY) is expected


def test_on_track_on_the_first_day_with_nothing_done() -> None:
    goal = plan(started_on=TODAY, target_minutes=300, target_date=DEADLINE)
    assert on_track(goal, ProgressTotals(), TODAY) is True


def test_past_the_deadline_only_a_met_target_is_on_track() -> None:
    goal = plan(target_modules=4, target_date=TODAY - timedelta(days=1))
    assert on_track(goal, ProgressTotals(modules=3), TODAY) is False
    assert on_track(goal, ProgressTotals(modules=4), TODAY) is True
    assert on_track(plan(target_date=TODAY - timedelta(days=1)), ProgressTotals(), TODAY) is False


def test_a_deadline_set_before_the_start_is_behind_until_done() -> None:
    goal = plan(started_on=TODAY, target_minutes=60, target_date=TODAY - timedelta(days=3))
    assert on_track(goal, ProgressTotals(minutes=59), TODAY) is False


def test_on_the_deadline_day_the_whole_target_is_expected() -> None:
    goal = plan(target_minutes=100, target_date=TODAY)
    assert on_track(goal, ProgressTotals(minutes=99), TODAY) is False
    assert on_track(goal, ProgressTotals(minutes=100), TODAY) is True


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", True), ("paused", False), ("completed", True), ("abandoned", False)],
)
def test_without_a_deadline_on_track_follows_the_status(status: str, expected: bool) -> None:
    assert on_track(plan(status=status, target_minutes=500), ProgressTotals(), TODAY) is expected


def test_completed_is_on_track_even_past_the_deadline_and_abandoned_never_is() -> None:
    late = plan(status="completed", target_minutes=500, target_date=TODAY - timedelta(days=5))
    assert on_track(late, ProgressTotals(), TODAY) is True
    ahead = plan(status="abandoned", target_minutes=10, target_date=DEADLINE)
    assert on_track(ahead, ProgressTotals(minutes=10), TODAY) is False


def test_a_deadline_without_a_target_is_on_track_until_it_passes() -> None:
    assert on_track(plan(target_date=DEADLINE), ProgressTotals(), TODAY) is True
    assert on_track(plan(target_date=TODAY - timedelta(days=1)), ProgressTotals(), TODAY) is False


def test_derive_progress_combines_every_part() -> None:
    totals = ProgressTotals(minutes=90, modules=1, active_days=days_ago(0, 1, 5))
    result = derive_progress(plan(target_minutes=120, target_date=DEADLINE), totals, TODAY)
    assert result.percent == 75.0
    assert result.minutes_done == 90
    assert result.modules_done == 1
    assert result.streak_days == 2
    assert result.on_track is True
