"""The plan scheduler against a brute-force reference (`scheduler_reference`), on small random
calendars around real DST transitions, with windows that run up to and start at midnight.

Two properties: every placed slot obeys every rule (read minute by minute), and when the plan falls
short, no legal next part was left unused (the greedy placer's documented bound). The mutation
tests at the end show the reference catches a placer that places nothing, ignores breaks or
ignores the daily cap.
"""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.plans import scheduler
from domain.plans.scheduler import (
    Interval,
    SchedulingRules,
    SessionRequest,
    WeeklyWindow,
    place_sessions,
)
from tests.domain.scheduler_reference import (
    Calendar,
    constraint_violations,
    missed_earlier_time,
    to_minute,
)

# Zones with DST jumps of an hour, of half an hour (Lord Howe), at midnight (Santiago, where
# 00:00 of the spring-forward day does not exist), south and north, and two without DST.
ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
)
YEAR = 2025
SEEDS = range(120)


@cache
def transitions(zone_name: str) -> tuple[tuple[date, int], ...]:
    """(local day, wall-clock minute of the day just before the jump) for each change of the
    zone's UTC offset in the year; none for fixed zones."""
    zone = ZoneInfo(zone_name)
    instant = datetime(YEAR, 1, 1, tzinfo=UTC)
    found = []
    offset = instant.astimezone(zone).utcoffset()
    while instant.year == YEAR:
        instant += timedelta(minutes=15)
        local = instant.astimezone(zone)
        if local.utcoffset() != offset:
            offset = local.utcoffset()
            before = (instant - timedelta(minutes=1)).astimezone(zone)
            found.append((before.date(), before.hour * 60 + before.minute + 1))
    return tuple(found)


def transition_days(zone_name: str) -> tuple[date, ...]:
    return tuple(day for day, _ in transitions(zone_name))


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _windows(rng: random.Random, jump: int | None) -> tuple[WeeklyWindow, ...]:
    """Random windows; many start or end near `jump` (the wall minute of a DST change)."""
    windows = []
    for weekday in range(7):
        for _ in range(rng.randint(0, 3)):
            if jump is not None and rng.random() < 0.4:
                start = max(0, min(jump + rng.randint(-90, 60), 24 * 60 - 5))
            elif rng.random() < 0.5:
                start = rng.randrange(0, 5 * 60)
            else:
                start = rng.randrange(24 * 60 - 5)
            if rng.random() < 0.2:
                windows.append(WeeklyWindow(weekday, _clock(start), time(0)))
            else:
                end = min(start + rng.randint(5, 360), 24 * 60 - 1)
                windows.append(WeeklyWindow(weekday, _clock(start), _clock(end)))
        if rng.random() < 0.25:
            # Across midnight: up to the end of this day, on from the start of the next.
            windows.append(WeeklyWindow(weekday, _clock(rng.randrange(20 * 60, 24 * 60)), time(0)))
            windows.append(WeeklyWindow((weekday + 1) % 7, time(0), _clock(rng.randint(5, 180))))
    return tuple(windows)


def random_case(seed: int) -> tuple[list[SessionRequest], list[Interval], SchedulingRules]:
    rng = random.Random(seed)
    zone_name = rng.choice(ZONES)
    zone = ZoneInfo(zone_name)
    jumps = transitions(zone_name)
    pivot, jump = rng.choice(jumps) if jumps else (date(YEAR, 1, 1), None)
    if not jumps:
        pivot += timedelta(days=rng.randrange(365))
    window_start = pivot - timedelta(days=rng.randrange(2))
    deadline = window_start + timedelta(days=rng.randrange(4))
    range_start = datetime.combine(window_start, time(0), tzinfo=UTC) - timedelta(hours=14)
    range_minutes = ((deadline - window_start).days + 2) * 24 * 60
    not_before = range_start + timedelta(minutes=rng.randrange(range_minutes // 2))
    busy = []
    for _ in range(rng.randrange(12)):
        start = range_start + timedelta(minutes=rng.randrange(range_minutes))
        busy.append(Interval(start, start + timedelta(minutes=rng.randint(1, 240))))
    requests = []
    for index in range(rng.randint(1, 8)):
        preferred = None
        if rng.random() < 0.3:
            preferred = range_start + timedelta(minutes=rng.randrange(range_minutes))
        requests.append(SessionRequest(f"session {index}", rng.randint(1, 150), preferred))
    session_minutes = rng.randint(10, 90)
    rules = SchedulingRules(
        timezone=zone_name,
        window_start=window_start,
        deadline=deadline,
        not_before=not_before.astimezone(zone),
        available_hours=_windows(rng, jump),
        session_minutes=session_minutes,
        min_session_minutes=rng.randint(1, session_minutes),
        break_minutes=rng.choice((0, 5, 10, 25)),
        max_daily_minutes=rng.choice((None, 30, 60, 120)),
    )
    return requests, busy, rules


def problems_found(seed: int) -> list[str]:
    """What the reference finds wrong with the scheduler's placement of one random case."""
    requests, busy, rules = random_case(seed)
    placement = place_sessions(requests, busy, rules)
    calendar = Calendar.build(busy, rules)
    problems = constraint_violations(placement.slots, requests, busy, rules, calendar)
    problems += missed_earlier_time(placement.slots, requests, busy, rules, calendar)
    placed = sum(to_minute(slot.end) - to_minute(slot.start) for slot in placement.slots)
    needed = sum(request.minutes for request in requests)
    if placement.proof.minutes_short != needed - placed:
        problems.append(f"the proof says {placement.proof.minutes_short} minutes short")
    if placement.proof.fits != (placed == needed and not problems):
        problems.append(f"the proof says fits={placement.proof.fits}")
    return problems


@pytest.mark.parametrize("seed", SEEDS)
def test_the_scheduler_agrees_with_the_brute_force_reference(seed: int) -> None:
    assert problems_found(seed) == []


def test_the_random_cases_reach_what_they_are_meant_to() -> None:
    """Guards the generator: without these, the property above would test little."""
    cases = [random_case(seed) for seed in SEEDS]
    on_a_jump = [
        rules
        for _, _, rules in cases
        if any(rules.window_start <= d <= rules.deadline for d in transition_days(rules.timezone))
    ]
    placements = [place_sessions(*case) for case in cases]
    assert len(on_a_jump) >= len(cases) // 2
    assert sum(p.proof.fits for p in placements) >= 20
    assert sum(not p.proof.fits and bool(p.slots) for p in placements) >= 20
    assert sum(rules.max_daily_minutes is not None for _, _, rules in cases) >= 50
    # Slots that start at a local midnight, after a window that ran up to it.
    assert any(
        any(slot.start.astimezone(rules.zone).time() == time(0) for slot in p.slots)
        for p, (_, _, rules) in zip(placements, cases, strict=True)
    )
    assert any(
        any(slot.end.astimezone(rules.zone).time() == time(0) for slot in p.slots)
        for p, (_, _, rules) in zip(placements, cases, strict=True)
    )


# --- Mutations: each must make the reference fail on some case -----------------------------


@contextmanager
def mutated(monkeypatch: pytest.MonkeyPatch, name: str, replacement: Any) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(scheduler._Placer, name, replacement)
        yield


def _caught() -> bool:
    return any(problems_found(seed) for seed in SEEDS)


def test_a_placer_that_places_nothing_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    with mutated(monkeypatch, "place", lambda self, requests: ()):
        assert _caught()


def test_a_placer_that_ignores_breaks_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_break_floor(self: Any, day_index: int) -> datetime:
        floor: datetime = self.last_end
        return floor

    with mutated(monkeypatch, "_floor", no_break_floor):
        assert _caught()


def test_a_placer_that_ignores_the_daily_cap_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def uncapped_room(self: Any, day: Any, start: datetime, gap_end: datetime) -> int:
        return (gap_end - start) // timedelta(minutes=1)

    with mutated(monkeypatch, "_room", uncapped_room):
        assert _caught()


def test_a_placer_that_stops_a_day_early_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler._Placer._place_earliest

    def skips_last_day(self: Any, *args: Any) -> int | None:
        if self.day_index >= len(self.days) - 1:
            return None
        result: int | None = original(self, *args)
        return result

    with mutated(monkeypatch, "_place_earliest", skips_last_day):
        assert _caught()


def test_windows_read_without_the_dst_gap_rule_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def naive_wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
        # A wall time in a spring-forward gap read with the old offset: past the jump.
        return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)

    monkeypatch.setattr(scheduler, "_wall_to_utc", naive_wall_to_utc)
    assert _caught()


def test_parts_that_leave_an_unsplittable_remainder_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler, "_splittable", lambda minutes, shortest, longest: True)
    assert _caught()
