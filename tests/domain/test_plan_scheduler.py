import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.plans.scheduler import (
    DEFAULT_AVAILABLE_HOURS,
    Interval,
    PlacedSlot,
    Placement,
    SchedulingRules,
    SessionRequest,
    WeeklyWindow,
    place_sessions,
    verify_placement,
)
from tests.domain.scheduler_reference import constraint_violations

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2025, 6, 2)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def every_day(start: time, end: time) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(weekday, start, end) for weekday in range(7))


def rules(**changes: Any) -> SchedulingRules:
    """Paris, Monday to Friday of one June week, free 09:00-12:00, defaults otherwise."""
    base = SchedulingRules(
        timezone="Europe/Paris",
        window_start=MONDAY,
        deadline=MONDAY + timedelta(days=4),
        not_before=paris(MONDAY, 0),
        available_hours=every_day(time(9), time(12)),
    )
    return replace(base, **changes)


def sessions(*minutes: int) -> list[SessionRequest]:
    return [SessionRequest(f"session {index}", length) for index, length in enumerate(minutes)]


def local_spans(placement: Placement) -> list[tuple[date, time, time]]:
    """Each slot as (local day, local start, local end) in Paris."""
    spans = []
    for slot in placement.slots:
        start, end = slot.start.astimezone(PARIS), slot.end.astimezone(PARIS)
        spans.append((start.date(), start.time(), end.time()))
    return spans


def lengths(placement: Placement) -> list[int]:
    return [(slot.end - slot.start) // timedelta(minutes=1) for slot in placement.slots]


def test_a_session_goes_to_the_start_of_the_first_available_window() -> None:
    placement = place_sessions(sessions(30), [], rules())

    assert placement.slots == (PlacedSlot(0, 1, paris(MONDAY, 9), paris(MONDAY, 9, 30)),)
    assert placement.slots[0].start.tzinfo is UTC
    assert placement.proof.fits
    assert placement.proof.minutes_placed == placement.proof.minutes_needed == 30


def test_a_busy_block_pushes_the_session_after_it() -> None:
    busy = [Interval(paris(MONDAY, 9), paris(MONDAY, 10))]

    placement = place_sessions(sessions(45), busy, rules())

    assert local_spans(placement) == [(MONDAY, time(10), time(10, 45))]
    assert placement.proof.no_overlaps


def test_a_slot_starts_on_the_next_five_minute_boundary() -> None:
    busy = [Interval(paris(MONDAY, 9), paris(MONDAY, 9, 7))]

    placement = place_sessions(sessions(30), busy, rules())

    assert local_spans(placement) == [(MONDAY, time(9, 10), time(9, 40))]


@pytest.mark.parametrize(
    "preferred",
    [paris(MONDAY, 10, 30), paris(MONDAY, 9, 30)],
    ids=["inside the busy block", "running into the busy block"],
)
def test_a_preferred_start_over_a_busy_block_is_ignored(preferred: datetime) -> None:
    busy = [Interval(paris(MONDAY, 10), paris(MONDAY, 11))]
    request = SessionRequest("algebra", 45, preferred_start=preferred)

    placement = place_sessions([request], busy, rules())

    assert local_spans(placement) == [(MONDAY, time(9), time(9, 45))]
    assert placement.proof.no_overlaps
    assert placement.proof.fits


def test_a_legal_preferred_start_is_kept_on_the_grid_and_later_sessions_follow_it() -> None:
    drafts = [SessionRequest("algebra", 45, preferred_start=paris(MONDAY, 11, 2))]
    drafts.append(SessionRequest("geometry", 30))

    placement = place_sessions(drafts, [], rules())

    assert local_spans(placement) == [
        (MONDAY, time(11, 5), time(11, 50)),
        (TUESDAY, time(9), time(9, 30)),
    ]
    assert placement.proof.fits


def test_a_preferred_start_outside_the_range_is_ignored() -> None:
    request = SessionRequest("algebra", 45, preferred_start=paris(MONDAY + timedelta(days=9), 9))

    placement = place_sessions([request], [], rules())

    assert local_spans(placement) == [(MONDAY, time(9), time(9, 45))]


def test_a_long_session_is_split_evenly_with_a_break_between_parts() -> None:
    placement = place_sessions(sessions(120), [], rules())

    assert [slot.part for slot in placement.slots] == [1, 2, 3]
    assert local_spans(placement) == [
        (MONDAY, time(9), time(9, 40)),
        (MONDAY, time(9, 50), time(10, 30)),
        (MONDAY, time(10, 40), time(11, 20)),
    ]
    assert placement.proof.fits


def test_an_uneven_split_keeps_every_part_within_one_minute_of_the_others() -> None:
    placement = place_sessions(sessions(100), [], rules())

    assert lengths(placement) == [34, 33, 33]


def test_a_session_that_cannot_respect_the_minimum_is_split_evenly_instead() -> None:
    # 46 minutes cannot be cut into sittings of 30 to 45 minutes.
    strict = rules(session_minutes=45, min_session_minutes=30)

    placement = place_sessions(sessions(46), [], strict)

    assert lengths(placement) == [23, 23]
    assert placement.proof.part_lengths_ok
    assert placement.proof.fits


@pytest.mark.parametrize(
    ("break_minutes", "second_start", "second_end"),
    [(10, time(9, 40), time(10, 10)), (0, time(9, 30), time(10))],
)
def test_a_break_separates_consecutive_sessions(
    break_minutes: int, second_start: time, second_end: time
) -> None:
    placement = place_sessions(sessions(30, 30), [], rules(break_minutes=break_minutes))

    assert local_spans(placement) == [
        (MONDAY, time(9), time(9, 30)),
        (MONDAY, second_start, second_end),
    ]


def test_a_gap_shorter_than_the_minimum_is_used_only_by_a_shorter_session() -> None:
    busy = [Interval(paris(MONDAY, 9, 10), paris(MONDAY, 10))]

    regular = place_sessions(sessions(30), busy, rules())
    tiny = place_sessions(sessions(10), busy, rules())

    assert local_spans(regular) == [(MONDAY, time(10), time(10, 30))]
    assert local_spans(tiny) == [(MONDAY, time(9), time(9, 10))]


def test_the_daily_cap_moves_the_rest_of_a_session_to_the_next_day() -> None:
    placement = place_sessions(sessions(45, 45), [], rules(max_daily_minutes=60))

    assert [(slot.session_index, slot.part) for slot in placement.slots] == [(0, 1), (1, 1), (1, 2)]
    assert local_spans(placement) == [
        (MONDAY, time(9), time(9, 45)),
        (MONDAY, time(9, 55), time(10, 10)),
        (TUESDAY, time(9), time(9, 30)),
    ]
    assert placement.proof.within_daily_cap
    assert placement.proof.fits


def test_a_plan_too_big_for_the_deadline_reports_exactly_what_is_missing() -> None:
    tight = rules(deadline=TUESDAY, session_minutes=60, break_minutes=0)

    # 300 + 100 + 5 minutes against 2 days of 3 hours.
    drafts = sessions(300, 100)
    drafts.append(SessionRequest("session 2", 5, preferred_start=paris(TUESDAY, 11, 50)))

    placement = place_sessions(drafts, [], tight)

    assert local_spans(placement) == [
        (MONDAY, time(9), time(10)),
        (MONDAY, time(10), time(11)),
        (MONDAY, time(11), time(12)),
        (TUESDAY, time(9), time(10)),
        (TUESDAY, time(10), time(11)),
        (TUESDAY, time(11), time(11, 50)),
    ]
    proof = placement.proof
    assert (proof.minutes_needed, proof.minutes_placed, proof.minutes_short) == (405, 350, 55)
    # The 5-minute session would fit at its preferred 11:50 but must not skip ahead.
    assert proof.unplaced_sessions == (1, 2)
    assert proof.full_days == (MONDAY, TUESDAY)
    assert not proof.fits
    assert proof.before_deadline
    assert proof.within_available_hours


def test_sessions_keep_their_order_across_days() -> None:
    drafts = [
        SessionRequest("chapter 1", 180),
        SessionRequest("chapter 2", 60, preferred_start=paris(MONDAY, 9)),
        SessionRequest("chapter 3", 60),
    ]

    placement = place_sessions(drafts, [], rules(session_minutes=60, break_minutes=0))

    assert [slot.session_index for slot in placement.slots] == [0, 0, 0, 1, 2]
    assert local_spans(placement)[3:] == [
        (TUESDAY, time(9), time(10)),
        (TUESDAY, time(10), time(11)),
    ]
    assert placement.proof.in_order


def test_hours_before_not_before_are_skipped() -> None:
    placement = place_sessions(sessions(45, 45), [], rules(not_before=paris(MONDAY, 10, 17)))

    assert local_spans(placement) == [
        (MONDAY, time(10, 20), time(11, 5)),
        (MONDAY, time(11, 15), time(12)),
    ]
    assert placement.proof.after_not_before


def test_a_not_before_late_in_the_day_moves_the_plan_to_the_next_day() -> None:
    late = rules(not_before=paris(MONDAY, 11, 50).astimezone(UTC))

    placement = place_sessions(sessions(45), [], late)

    assert local_spans(placement) == [(TUESDAY, time(9), time(9, 45))]
    assert placement.proof.full_days == (MONDAY,)


@pytest.mark.parametrize(
    "first_day",
    [date(2025, 3, 27), date(2025, 10, 23)],
    ids=["spring forward on 30 March", "fall back on 26 October"],
)
def test_a_dst_change_keeps_the_local_wall_times(first_day: date) -> None:
    week = rules(
        window_start=first_day,
        deadline=first_day + timedelta(days=6),
        not_before=paris(first_day, 0),
        session_minutes=180,
        break_minutes=0,
    )

    placement = place_sessions(sessions(*[180] * 7), [], week)

    assert local_spans(placement) == [
        (first_day + timedelta(days=n), time(9), time(12)) for n in range(7)
    ]
    assert {slot.start.hour for slot in placement.slots} == {7, 8}
    assert placement.proof.fits


def test_a_window_partly_skipped_by_spring_forward_keeps_the_time_that_exists() -> None:
    days = rules(
        window_start=date(2025, 3, 29),
        deadline=date(2025, 3, 31),
        not_before=paris(date(2025, 3, 29), 0),
        available_hours=every_day(time(1, 30), time(2, 30)),
        session_minutes=60,
        break_minutes=0,
    )

    placement = place_sessions(sessions(60, 30, 60), [], days)

    assert [(slot.start, slot.end) for slot in placement.slots] == [
        (datetime(2025, 3, 29, 0, 30, tzinfo=UTC), datetime(2025, 3, 29, 1, 30, tzinfo=UTC)),
        # 01:30-02:00 CET, then the clock jumps to 03:00.
        (datetime(2025, 3, 30, 0, 30, tzinfo=UTC), datetime(2025, 3, 30, 1, 0, tzinfo=UTC)),
        (datetime(2025, 3, 30, 23, 30, tzinfo=UTC), datetime(2025, 3, 31, 0, 30, tzinfo=UTC)),
    ]
    assert placement.proof.fits


def test_a_window_entirely_skipped_by_spring_forward_is_a_full_day() -> None:
    sunday = date(2025, 3, 30)
    skipped = rules(
        window_start=sunday,
        deadline=sunday,
        not_before=paris(sunday, 0),
        available_hours=every_day(time(2), time(3)),
    )

    placement = place_sessions(sessions(30), [], skipped)

    assert placement.slots == ()
    assert placement.proof.minutes_short == 30
    assert placement.proof.full_days == (sunday,)


def test_a_window_in_the_repeated_hour_of_fall_back_starts_at_its_first_occurrence() -> None:
    sunday = date(2025, 10, 26)
    repeated = rules(
        window_start=sunday,
        deadline=sunday,
        not_before=paris(sunday, 0),
        available_hours=every_day(time(2), time(3)),
        session_minutes=120,
    )

    placement = place_sessions(sessions(120), [], repeated)

    # 02:00 CEST to 03:00 CET: two hours pass while the clock goes from 02:00 to 03:00.
    assert [(slot.start, slot.end) for slot in placement.slots] == [
        (datetime(2025, 10, 26, 0, 0, tzinfo=UTC), datetime(2025, 10, 26, 2, 0, tzinfo=UTC))
    ]
    assert placement.proof.fits


def test_empty_available_hours_fall_back_to_nine_to_nine_every_day() -> None:
    defaults = rules(available_hours=(), session_minutes=720, break_minutes=0)

    placement = place_sessions(sessions(720, 60), [], defaults)

    assert every_day(time(9), time(21)) == DEFAULT_AVAILABLE_HOURS
    assert local_spans(placement) == [
        (MONDAY, time(9), time(21)),
        (TUESDAY, time(9), time(10)),
    ]


def test_a_window_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    evening = rules(
        deadline=MONDAY,
        available_hours=(WeeklyWindow(MONDAY.weekday(), time(21), time(0)),),
        session_minutes=180,
    )

    placement = place_sessions(sessions(180), [], evening)

    assert placement.slots == (PlacedSlot(0, 1, paris(MONDAY, 21), paris(TUESDAY, 0)),)
    assert placement.proof.fits


# --- The checker ----------------------------------------------------------------------------

CHECKED_BUSY = [Interval(paris(MONDAY, 10, 45), paris(MONDAY, 11, 15))]


def slot(session_index: int, start: datetime, minutes: int = 45, part: int = 1) -> PlacedSlot:
    return PlacedSlot(session_index, part, start, start + timedelta(minutes=minutes))


def test_the_checker_accepts_a_legal_hand_made_plan() -> None:
    legal = [slot(0, paris(MONDAY, 9)), slot(1, paris(MONDAY, 11, 15))]

    proof = verify_placement(legal, sessions(45, 45), CHECKED_BUSY, rules())

    assert proof.fits
    assert proof.minutes_short == 0


@pytest.mark.parametrize(
    ("second", "changes", "broken_check"),
    [
        (slot(1, paris(MONDAY, 9, 30)), {}, "no_overlaps"),
        (slot(1, paris(MONDAY, 10, 30)), {}, "no_overlaps"),
        (slot(1, paris(MONDAY, 12, 30)), {}, "within_available_hours"),
        (slot(1, paris(MONDAY, 8)), {}, "within_available_hours"),
        (slot(1, paris(WEDNESDAY, 9)), {"deadline": TUESDAY}, "before_deadline"),
        (slot(1, paris(MONDAY, 11, 15)), {"not_before": paris(MONDAY, 9, 30)}, "after_not_before"),
        (slot(1, paris(MONDAY, 9, 45)), {}, "breaks_kept"),
        (slot(1, paris(MONDAY, 11, 15)), {"max_daily_minutes": 60}, "within_daily_cap"),
        (slot(1, paris(MONDAY, 11, 15), part=2), {}, "in_order"),
        (slot(1, paris(MONDAY, 11, 15), minutes=50), {}, "part_lengths_ok"),
    ],
    ids=[
        "slots overlap",
        "slot over a busy block",
        "after the window",
        "before the window",
        "after the deadline",
        "before not_before",
        "no break",
        "over the daily cap",
        "parts misnumbered",
        "part too long",
    ],
)
def test_the_checker_flags_a_broken_hand_made_plan(
    second: PlacedSlot, changes: dict[str, Any], broken_check: str
) -> None:
    broken = [slot(0, paris(MONDAY, 9)), second]

    proof = verify_placement(broken, sessions(45, 45), CHECKED_BUSY, rules(**changes))

    assert getattr(proof, broken_check) is False
    assert not proof.fits


def test_the_checker_flags_sessions_placed_out_of_order() -> None:
    swapped = [slot(1, paris(MONDAY, 9)), slot(0, paris(MONDAY, 11, 15))]

    proof = verify_placement(swapped, sessions(45, 45), CHECKED_BUSY, rules())

    assert not proof.in_order
    assert not proof.fits


def test_the_checker_flags_a_session_placed_after_an_unplaced_one() -> None:
    skipping = [slot(1, paris(MONDAY, 9))]

    proof = verify_placement(skipping, sessions(45, 45), CHECKED_BUSY, rules())

    assert not proof.in_order
    assert proof.unplaced_sessions == (0,)
    assert proof.minutes_short == 45


def test_the_checker_counts_missing_minutes_from_the_slots() -> None:
    partial = [slot(0, paris(MONDAY, 9)), slot(1, paris(MONDAY, 11, 15), minutes=20)]

    proof = verify_placement(partial, sessions(45, 45), CHECKED_BUSY, rules())

    assert (proof.minutes_placed, proof.minutes_short) == (65, 25)
    assert proof.unplaced_sessions == (1,)
    assert proof.in_order
    assert not proof.fits


# --- Input validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rules(deadline=MONDAY - timedelta(days=1)), "before window_start"),
        (lambda: SessionRequest("algebra", 0), "minutes must be positive"),
        (lambda: SessionRequest("algebra", -5), "minutes must be positive"),
        (lambda: rules(not_before=datetime(2025, 6, 2, 9)), "not_before must be timezone-aware"),
        (lambda: Interval(datetime(2025, 6, 2, 9), paris(MONDAY, 10)), "timezone-aware"),
        (
            lambda: SessionRequest("algebra", 30, preferred_start=datetime(2025, 6, 2, 9)),
            "preferred_start must be timezone-aware",
        ),
        (lambda: rules(timezone="Mars/Olympus"), "unknown time zone"),
        (lambda: rules(timezone="Europe"), "unknown time zone"),
        (lambda: rules(timezone=""), "unknown time zone"),
        (lambda: rules(session_minutes=0), "session_minutes must be positive"),
        (lambda: rules(min_session_minutes=60), "min_session_minutes"),
        (lambda: rules(break_minutes=-1), "break_minutes"),
        (lambda: rules(max_daily_minutes=0), "max_daily_minutes"),
        (lambda: WeeklyWindow(7, time(9), time(12)), "weekday"),
        (lambda: WeeklyWindow(0, time(12), time(9)), "after its start"),
        (lambda: Interval(paris(MONDAY, 10), paris(MONDAY, 9)), "after its start"),
        (lambda: slot(0, datetime(2025, 6, 2, 9)), "timezone-aware"),
    ],
)
def test_invalid_input_is_rejected_with_a_clear_message(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_the_checker_rejects_a_slot_for_a_session_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="there are 1 sessions"):
        verify_placement([slot(1, paris(MONDAY, 9))], sessions(45), [], rules())


# --- Properties -----------------------------------------------------------------------------

ZONES = ("Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")


def clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def random_windows(rng: random.Random) -> tuple[WeeklyWindow, ...]:
    """A morning and an afternoon window per day, apart, and clear of DST switch hours."""
    windows = []
    for weekday in range(7):
        if rng.random() < 0.8:
            start = rng.randint(5 * 60, 9 * 60)
            windows.append(WeeklyWindow(weekday, clock(start), clock(start + rng.randint(20, 240))))
        if rng.random() < 0.8:
            start = rng.randint(14 * 60, 18 * 60)
            windows.append(WeeklyWindow(weekday, clock(start), clock(start + rng.randint(20, 300))))
    return tuple(windows)


def random_case(
    rng: random.Random,
) -> tuple[list[SessionRequest], list[Interval], SchedulingRules]:
    zone = ZoneInfo(rng.choice(ZONES))
    window_start = date(2025, 1, 1) + timedelta(days=rng.randrange(365))
    not_before = datetime.combine(
        window_start + timedelta(days=rng.randrange(3)),
        clock(rng.randrange(24 * 60)),
        tzinfo=zone,
    )
    span_minutes = 20 * 24 * 60
    busy = []
    for _ in range(rng.randrange(80)):
        start = not_before + timedelta(minutes=rng.randrange(-24 * 60, span_minutes))
        interval = Interval(start, start + timedelta(minutes=rng.randint(5, 240)))
        busy.append(Interval(interval.start.astimezone(UTC), interval.end.astimezone(UTC)))
    requests = []
    for index in range(rng.randint(1, 30)):
        preferred = None
        if rng.random() < 0.3:
            preferred = not_before + timedelta(minutes=rng.randrange(-600, span_minutes))
        requests.append(SessionRequest(f"session {index}", rng.randint(1, 180), preferred))
    session_minutes = rng.randint(10, 120)
    rules = SchedulingRules(
        timezone=str(zone),
        window_start=window_start,
        deadline=window_start + timedelta(days=rng.randrange(21)),
        not_before=not_before,
        available_hours=random_windows(rng),
        session_minutes=session_minutes,
        min_session_minutes=rng.randint(1, session_minutes),
        break_minutes=rng.choice((0, 5, 10, 15)),
        max_daily_minutes=rng.choice((None, 30, 90, 240)),
    )
    return requests, busy, rules


def assert_slots_obey_the_rules(
    slots: Sequence[PlacedSlot],
    requests: Sequence[SessionRequest],
    busy: Sequence[Interval],
    rules: SchedulingRules,
) -> None:
    """The guarantees, checked with plain wall-clock arithmetic rather than the module's own."""
    zone = ZoneInfo(rules.timezone)
    deadline_end = datetime.combine(rules.deadline + timedelta(days=1), time(0), tzinfo=zone)
    placed = [timedelta(0)] * len(requests)
    for placed_slot in slots:
        start, end = placed_slot.start.astimezone(zone), placed_slot.end.astimezone(zone)
        assert placed_slot.start >= rules.not_before
        assert placed_slot.end <= deadline_end
        assert rules.window_start <= start.date() <= rules.deadline
        assert not any(placed_slot.start < b.end and b.start < placed_slot.end for b in busy)
        assert any(
            window.weekday == start.weekday()
            and window.start <= start.time()
            and end.date() == start.date()
            and end.time() <= window.end
            for window in rules.available_hours
        )
        assert placed_slot.start.minute % 5 == 0
        assert placed_slot.end - placed_slot.start <= timedelta(minutes=rules.session_minutes)
        placed[placed_slot.session_index] += placed_slot.end - placed_slot.start
    for earlier, later in pairwise(slots):
        assert earlier.end <= later.start
        assert earlier.session_index <= later.session_index
    for request, total in zip(requests, placed, strict=True):
        assert total <= timedelta(minutes=request.minutes)


@pytest.mark.parametrize("seed", range(40))
def test_random_drafts_get_a_placement_whose_proof_holds(seed: int) -> None:
    requests, busy, rules = random_case(random.Random(seed))

    placement = place_sessions(requests, busy, rules)

    proof = placement.proof
    assert proof.no_overlaps
    assert proof.within_available_hours
    assert proof.before_deadline
    assert proof.after_not_before
    assert proof.in_order
    assert proof.part_lengths_ok
    assert proof.breaks_kept
    assert proof.within_daily_cap
    assert proof.minutes_placed + proof.minutes_short == proof.minutes_needed
    assert proof.fits == (proof.minutes_short == 0)
    if not proof.fits:
        # Placement stops at the first session that does not fit: the rest is a suffix.
        first = proof.unplaced_sessions[0]
        assert proof.unplaced_sessions == tuple(range(first, len(requests)))
    assert_slots_obey_the_rules(placement.slots, requests, busy, rules)
    assert constraint_violations(placement.slots, requests, busy, rules) == []


def test_a_full_size_plan_is_placed_and_proven() -> None:
    rng = random.Random(2025)
    half_year = rules(deadline=MONDAY + timedelta(days=180), available_hours=())
    busy = []
    for _ in range(300):
        start = paris(MONDAY, 8) + timedelta(minutes=5 * rng.randrange(180 * 24 * 12))
        busy.append(Interval(start, start + timedelta(minutes=rng.randint(30, 180))))
    drafts = sessions(*[rng.randint(20, 150) for _ in range(200)])

    placement = place_sessions(drafts, busy, half_year)

    assert placement.proof.fits
    assert placement.proof.minutes_placed == sum(draft.minutes for draft in drafts)
