"""When to study: place drafted sessions in a user's free time, and prove the result.

A model drafts *what* to study and in which order; `place_sessions` decides *when*. Whatever the
draft says, every placed slot
- lies inside one available window, read as wall-clock time in the user's zone (a 09:00-12:00
  window stays 09:00-12:00 local across DST changes), on a day from `window_start` to `deadline`;
- overlaps no busy interval and no other slot;
- starts no earlier than `not_before` and ends by the end of the deadline day (user's zone);
- keeps the draft's order, the part lengths, the break between sittings and the daily cap.
What does not fit is reported (`minutes_short`, `unplaced_sessions`, `full_days`), never dropped
silently. `verify_placement` re-derives every property from the slots alone, so the proof attached
to a placement does not take the placer's word for anything.

Rules a caller relies on:
- Order: every part of session i ends before any part of session i+1 starts. Once a session
  cannot be placed in full, its placed parts stay and later sessions are not placed at all.
- Placement is greedy earliest-fit. A `preferred_start` (rounded up to the grid) takes the first
  part only if that exact slot is legal; otherwise the session goes to the earliest legal time.
- Grid: slots start on 5-minute boundaries, rounded up (UTC and local boundaries coincide for
  every offset in use today). Lengths are whole minutes and need not be multiples of 5.
- Splitting: a session longer than `session_minutes` is split evenly (100 minutes in 45-minute
  sittings: 34 + 33 + 33); a part shrinks to fit a gap or the daily cap, but never below
  `min_session_minutes` and never leaving a remainder that could not become sittings of its own.
  A session shorter than the minimum is one part of its own length. A session that cannot be cut
  into parts of `min_session_minutes` to `session_minutes` at all (46 minutes in sittings of 30
  to 45) lowers its minimum to the shortest part of its even split (23 + 23).
- Breaks: `break_minutes` separates consecutive slots of the same local day only.
- Windows: overlapping or touching windows of a day merge into one; an `end` of 00:00 means
  midnight at the end of the day. Wall times a DST jump skips are clamped to the jump, so a window
  keeps exactly the wall-clock time that exists; repeated (fall-back) wall times take their first
  occurrence. A slot never crosses local midnight, so it belongs to exactly one day.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from math import ceil
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

GRID = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)
# As a window end, midnight at the end of the day.
MIDNIGHT = time(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # OSError: a key naming a folder of the database, such as "Europe".
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


@dataclass(frozen=True)
class WeeklyWindow:
    """A weekly available window, in wall-clock time of the user's zone (naive times)."""

    weekday: int  # 0 = Monday ... 6 = Sunday
    start: time
    end: time  # 00:00 means midnight at the end of the day

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are wall-clock times and must be naive")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")


DEFAULT_AVAILABLE_HOURS = tuple(WeeklyWindow(day, time(9), time(21)) for day in range(7))


@dataclass(frozen=True)
class Interval:
    """[start, end) between aware instants; intervals that only touch do not overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "interval start")
        _require_aware(self.end, "interval end")
        if self.end <= self.start:
            raise ValueError(f"interval end {self.end} must be after its start {self.start}")


@dataclass(frozen=True)
class SessionRequest:
    title: str
    minutes: int  # total minutes wanted for this session
    preferred_start: datetime | None = None  # a hint from the model; honoured only if legal

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise ValueError(
                f"session {self.title!r}: minutes must be positive, got {self.minutes}"
            )
        if self.preferred_start is not None:
            _require_aware(self.preferred_start, f"session {self.title!r}: preferred_start")


@dataclass(frozen=True)
class SchedulingRules:
    timezone: str  # IANA name, e.g. "Europe/Paris"
    window_start: date  # first day that may be used (user's zone)
    deadline: date  # last day that may be used, inclusive (user's zone)
    not_before: datetime  # nothing starts before this (usually "now")
    available_hours: tuple[WeeklyWindow, ...] = ()  # empty: DEFAULT_AVAILABLE_HOURS
    session_minutes: int = 45  # longest sitting; longer sessions are split into parts
    min_session_minutes: int = 15  # shortest part (a shorter session is one part of its own)
    break_minutes: int = 10  # kept between consecutive slots of the same day
    max_daily_minutes: int | None = None  # cap of placed minutes per local day

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if self.deadline < self.window_start:
            raise ValueError(f"deadline {self.deadline} is before window_start {self.window_start}")
        _require_aware(self.not_before, "not_before")
        if self.session_minutes <= 0:
            raise ValueError(f"session_minutes must be positive, got {self.session_minutes}")
        if not 0 < self.min_session_minutes <= self.session_minutes:
            raise ValueError(
                "min_session_minutes must be positive and at most session_minutes, "
                f"got {self.min_session_minutes} (session_minutes {self.session_minutes})"
            )
        if self.break_minutes < 0:
            raise ValueError(f"break_minutes must not be negative, got {self.break_minutes}")
        if self.max_daily_minutes is not None and self.max_daily_minutes <= 0:
            raise ValueError(f"max_daily_minutes must be positive, got {self.max_daily_minutes}")

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    @property
    def windows(self) -> tuple[WeeklyWindow, ...]:
        return self.available_hours or DEFAULT_AVAILABLE_HOURS


@dataclass(frozen=True)
class PlacedSlot:
    session_index: int  # index into the requests list
    part: int  # 1-based part number of that session
    start: datetime  # aware UTC
    end: datetime  # aware UTC

    def __post_init__(self) -> None:
        _require_aware(self.start, "slot start")
        _require_aware(self.end, "slot end")
        if self.end <= self.start:
            raise ValueError(f"slot end {self.end} must be after its start {self.start}")
        if self.session_index < 0 or self.part < 1:
            raise ValueError("session_index must be >= 0 and part >= 1")


@dataclass(frozen=True)
class PlacementProof:
    minutes_needed: int
    minutes_placed: int
    minutes_short: int
    no_overlaps: bool  # no slot overlaps a busy interval or another slot
    within_available_hours: bool  # each slot inside one available window of a day in range
    before_deadline: bool  # each slot ends by the end of the deadline day (user's zone)
    after_not_before: bool
    in_order: bool  # sessions in draft order, parts numbered in time order, no skipping ahead
    part_lengths_ok: bool  # each part between its session's shortest part and session_minutes
    breaks_kept: bool  # break_minutes between consecutive slots of the same local day
    within_daily_cap: bool
    fits: bool  # minutes_short == 0, nothing over-placed, and every check holds
    full_days: tuple[date, ...]  # usable days with no room left for a sitting of the minimum
    unplaced_sessions: tuple[int, ...]  # sessions not (fully) placed


@dataclass(frozen=True)
class Placement:
    slots: tuple[PlacedSlot, ...]  # in time order, which is also the draft's order
    proof: PlacementProof


def place_sessions(
    requests: Sequence[SessionRequest], busy: Sequence[Interval], rules: SchedulingRules
) -> Placement:
    """Place `requests` in order at the earliest legal times, with the proof of the result."""
    merged_busy = _merge(busy)
    days = [
        _Day(day, _subtract(_usable_windows(day, rules), merged_busy))
        for day in _usable_days(rules)
    ]
    slots = _Placer(days, rules).place(requests)
    return Placement(slots, verify_placement(slots, requests, busy, rules))


def verify_placement(
    slots: Sequence[PlacedSlot],
    requests: Sequence[SessionRequest],
    busy: Sequence[Interval],
    rules: SchedulingRules,
) -> PlacementProof:
    """Check `slots` against every guarantee from scratch: nothing here trusts the placer."""
    for slot in slots:
        if slot.session_index >= len(requests):
            raise ValueError(
                f"slot for session {slot.session_index}, but there are {len(requests)} sessions"
            )
    ordered = sorted(slots, key=lambda slot: (slot.start, slot.end))
    merged_busy = _merge(busy)
    placed = _placed_minutes(slots, len(requests))
    needed = [request.minutes for request in requests]
    minutes_short = sum(max(0, want - got) for want, got in zip(needed, placed, strict=True))
    deadline_end = _wall_to_utc(rules.deadline + timedelta(days=1), MIDNIGHT, rules.zone)
    no_overlaps = _no_overlaps(ordered, merged_busy)
    within_available_hours = all(_within_available_hours(slot, rules) for slot in slots)
    before_deadline = all(slot.end <= deadline_end for slot in slots)
    after_not_before = all(slot.start >= rules.not_before for slot in slots)
    in_order = _in_order(ordered, needed, placed)
    part_lengths_ok = all(_part_length_ok(slot, requests, rules) for slot in slots)
    breaks_kept = _breaks_kept(ordered, rules)
    within_daily_cap = _within_daily_cap(slots, rules)
    checks = (
        no_overlaps,
        within_available_hours,
        before_deadline,
        after_not_before,
        in_order,
        part_lengths_ok,
        breaks_kept,
        within_daily_cap,
    )
    return PlacementProof(
        minutes_needed=sum(needed),
        minutes_placed=sum(placed),
        minutes_short=minutes_short,
        no_overlaps=no_overlaps,
        within_available_hours=within_available_hours,
        before_deadline=before_deadline,
        after_not_before=after_not_before,
        in_order=in_order,
        part_lengths_ok=part_lengths_ok,
        breaks_kept=breaks_kept,
        within_daily_cap=within_daily_cap,
        fits=minutes_short == 0 and placed == needed and all(checks),
        full_days=_full_days(ordered, merged_busy, rules),
        unplaced_sessions=tuple(
            index
            for index, (want, got) in enumerate(zip(needed, placed, strict=True))
            if got < want
        ),
    )


# --- Time and intervals ---------------------------------------------------------------------


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the clock in `zone` shows `wall` on `day`.

    A repeated wall time takes its first occurrence (`fold=0`); a skipped one maps to the instant
    of the jump, so a window loses only the wall-clock time that does not exist.
    """
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap, fold=1 reads the wall time with the offset after the jump: an earlier instant.
    return _clock_jump(local.replace(fold=1).astimezone(UTC), instant, zone)


def _clock_jump(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (before, after] at which the clock of `zone` jumps forward."""
    offset_after = after.astimezone(zone).utcoffset()
    # Zone transitions fall on whole seconds, so bisecting timestamps finds the exact instant.
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _round_up_to_grid(instant: datetime) -> datetime:
    overshoot = (instant - _EPOCH) % GRID
    return instant + (GRID - overshoot) if overshoot else instant


def _whole_minutes(duration: timedelta) -> int:
    return duration // MINUTE


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint UTC intervals covering the same time; touching ones join."""
    merged: list[Interval] = []
    in_utc = (Interval(i.start.astimezone(UTC), i.end.astimezone(UTC)) for i in intervals)
    for interval in sorted(in_utc, key=lambda interval: interval.start):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


def _first_hole_ending_after(instant: datetime, holes: Sequence[Interval]) -> int:
    return bisect_right(holes, instant, key=lambda hole: hole.end)


def _subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """`intervals` minus `holes`; both sorted and disjoint."""
    remaining: list[Interval] = []
    for interval in intervals:
        cursor = interval.start
        for index in range(_first_hole_ending_after(cursor, holes), len(holes)):
            hole = holes[index]
            if hole.start >= interval.end:
                break
            if hole.start > cursor:
                remaining.append(Interval(cursor, hole.start))
            cursor = max(cursor, hole.end)
        if cursor < interval.end:
            remaining.append(Interval(cursor, interval.end))
    return remaining


def _overlaps_any(start: datetime, end: datetime, holes: Sequence[Interval]) -> bool:
    index = _first_hole_ending_after(start, holes)
    return index < len(holes) and holes[index].start < end


# --- Days and windows -----------------------------------------------------------------------


def _day_windows(day: date, rules: SchedulingRules) -> list[Interval]:
    """The day's available hours as UTC intervals (empty where a DST jump swallows a window)."""
    zone = rules.zone
    spans = []
    for window in rules.windows:
        if window.weekday != day.weekday():
            continue
        end_day = day + timedelta(days=1) if window.end == MIDNIGHT else day
        start = _wall_to_utc(day, window.start, zone)
        end = _wall_to_utc(end_day, window.end, zone)
        if start < end:
            spans.append(Interval(start, end))
    return _merge(spans)


def _usable_windows(day: date, rules: SchedulingRules) -> list[Interval]:
    not_before = rules.not_before.astimezone(UTC)
    return [
        Interval(max(window.start, not_before), window.end)
        for window in _day_windows(day, rules)
        if window.end > not_before
    ]


def _usable_days(rules: SchedulingRules) -> list[date]:
    """The range's days from the one `not_before` falls on (earlier days are past)."""
    first = max(rules.window_start, _local_date(rules.not_before, rules.zone))
    return [first + timedelta(days=n) for n in range((rules.deadline - first).days + 1)]


# --- Splitting ------------------------------------------------------------------------------


def _even_part(remaining: int, longest: int) -> int:
    return ceil(remaining / ceil(remaining / longest))


def _shortest_part(total: int, rules: SchedulingRules) -> int:
    """The shortest part a session of `total` minutes may have (see the module docstring)."""
    parts = ceil(total / rules.session_minutes)
    return min(rules.min_session_minutes, total // parts)


def _splittable(minutes: int, shortest: int, longest: int) -> bool:
    # The fewest parts that respect `longest` also make the weakest demand on `shortest`.
    return minutes == 0 or ceil(minutes / longest) * shortest <= minutes


def _part_length(remaining: int, room: int, shortest: int, longest: int) -> int | None:
    """The even share of `remaining`, shortened to fit `room` and leave a splittable remainder."""
    for length in range(min(_even_part(remaining, longest), room), shortest - 1, -1):
        if _splittable(remaining - length, shortest, longest):
            return length
    return None


# --- Placement ------------------------------------------------------------------------------


@dataclass
class _Day:
    local_date: date
    free: list[Interval]  # available hours minus busy time, after not_before
    placed_minutes: int = 0


class _Placer:
    """Greedy earliest fit that only moves forward in time, which keeps the draft's order."""

    def __init__(self, days: list[_Day], rules: SchedulingRules) -> None:
        self.days = days
        self.rules = rules
        self.slots: list[PlacedSlot] = []
        self.day_index = 0
        self.last_end = rules.not_before.astimezone(UTC)
        self.last_day_index: int | None = None

    def place(self, requests: Sequence[SessionRequest]) -> tuple[PlacedSlot, ...]:
        for index, request in enumerate(requests):
            # A later session never fills a gap an earlier one could not use: no skipping ahead.
            if not self._place_session(index, request):
                break
        return tuple(self.slots)

    def _place_session(self, index: int, request: SessionRequest) -> bool:
        shortest = _shortest_part(request.minutes, self.rules)
        remaining, parts = request.minutes, 0
        if request.preferred_start is not None:
            first = self._place_at(request.preferred_start, index, request.minutes)
            if first is not None:
                remaining, parts = remaining - first, 1
        while remaining:
            length = self._place_earliest(index, parts + 1, remaining, shortest)
            if length is None:
                return False
            remaining, parts = remaining - length, parts + 1
        return True

    def _place_at(self, preferred: datetime, index: int, total: int) -> int | None:
        """Place the first part exactly at `preferred` (on the grid) if that slot is legal."""
        start = _round_up_to_grid(preferred.astimezone(UTC))
        day_index = self._day_index_of(start)
        if day_index is None or start < self._floor(day_index):
            return None
        day = self.days[day_index]
        length = _even_part(total, self.rules.session_minutes)
        gap = next((gap for gap in day.free if gap.start <= start < gap.end), None)
        if gap is None or self._room(day, start, gap.end) < length:
            return None
        self._record(index, 1, start, length, day_index)
        return length

    def _place_earliest(self, index: int, part: int, remaining: int, shortest: int) -> int | None:
        longest = self.rules.session_minutes
        while self.day_index < len(self.days):
            day = self.days[self.day_index]
            floor = self._floor(self.day_index)
            for gap in day.free:
                start = _round_up_to_grid(max(gap.start, floor))
                room = self._room(day, start, gap.end)
                length = _part_length(remaining, room, shortest, longest)
                if length is not None:
                    self._record(index, part, start, length, self.day_index)
                    return length
            self.day_index += 1
        return None

    def _day_index_of(self, instant: datetime) -> int | None:
        if not self.days:
            return None
        index = (_local_date(instant, self.rules.zone) - self.days[0].local_date).days
        return index if 0 <= index < len(self.days) else None

    def _floor(self, day_index: int) -> datetime:
        """Earliest start the previous slot allows on that day: its end, plus the break."""
        if day_index == self.last_day_index:
            return self.last_end + self.rules.break_minutes * MINUTE
        return self.last_end

    def _room(self, day: _Day, start: datetime, gap_end: datetime) -> int:
        room = _whole_minutes(gap_end - start)
        if self.rules.max_daily_minutes is None:
            return room
        return min(room, self.rules.max_daily_minutes - day.placed_minutes)

    def _record(self, index: int, part: int, start: datetime, length: int, day_index: int) -> None:
        end = start + length * MINUTE
        self.slots.append(PlacedSlot(index, part, start, end))
        self.days[day_index].placed_minutes += length
        self.day_index = self.last_day_index = day_index
        self.last_end = end


# --- Verification ---------------------------------------------------------------------------


def _placed_minutes(slots: Iterable[PlacedSlot], sessions: int) -> list[int]:
    durations = [timedelta(0)] * sessions
    for slot in slots:
        durations[slot.session_index] += slot.end - slot.start
    return [_whole_minutes(duration) for duration in durations]


def _no_overlaps(ordered: Sequence[PlacedSlot], busy: Sequence[Interval]) -> bool:
    # Sorted by start, any two overlapping slots imply an overlapping neighbour pair.
    if any(earlier.end > later.start for earlier, later in pairwise(ordered)):
        return False
    return not any(_overlaps_any(slot.start, slot.end, busy) for slot in ordered)


def _within_available_hours(slot: PlacedSlot, rules: SchedulingRules) -> bool:
    day = _local_date(slot.start, rules.zone)
    if not rules.window_start <= day <= rules.deadline:
        return False
    return any(w.start <= slot.start and slot.end <= w.end for w in _day_windows(day, rules))


def _in_order(ordered: Sequence[PlacedSlot], needed: list[int], placed: list[int]) -> bool:
    by_session: dict[int, list[PlacedSlot]] = defaultdict(list)
    for slot in ordered:
        by_session[slot.session_index].append(slot)
    if any(
        [slot.part for slot in parts] != list(range(1, len(parts) + 1))
        for parts in by_session.values()
    ):
        return False
    sessions = sorted(by_session)
    if any(
        max(slot.end for slot in by_session[earlier])
        > min(slot.start for slot in by_session[later])
        for earlier, later in pairwise(sessions)
    ):
        return False
    last = sessions[-1] if sessions else 0
    return all(placed[index] >= needed[index] for index in range(last))


def _part_length_ok(
    slot: PlacedSlot, requests: Sequence[SessionRequest], rules: SchedulingRules
) -> bool:
    shortest = _shortest_part(requests[slot.session_index].minutes, rules)
    return shortest * MINUTE <= slot.end - slot.start <= rules.session_minutes * MINUTE


def _breaks_kept(ordered: Sequence[PlacedSlot], rules: SchedulingRules) -> bool:
    zone, pause = rules.zone, rules.break_minutes * MINUTE
    return all(
        later.start - earlier.end >= pause
        for earlier, later in pairwise(ordered)
        if _local_date(earlier.start, zone) == _local_date(later.start, zone)
    )


def _minutes_by_day(slots: Iterable[PlacedSlot], zone: ZoneInfo) -> dict[date, timedelta]:
    totals: dict[date, timedelta] = defaultdict(timedelta)
    for slot in slots:
        totals[_local_date(slot.start, zone)] += slot.end - slot.start
    return totals


def _within_daily_cap(slots: Iterable[PlacedSlot], rules: SchedulingRules) -> bool:
    cap = rules.max_daily_minutes
    if cap is None:
        return True
    return all(total <= cap * MINUTE for total in _minutes_by_day(slots, rules.zone).values())


def _full_days(
    ordered: Sequence[PlacedSlot], busy: Sequence[Interval], rules: SchedulingRules
) -> tuple[date, ...]:
    """Usable days with no room left for a sitting of `min_session_minutes`, whatever its order."""
    by_day: dict[date, list[PlacedSlot]] = defaultdict(list)
    for slot in ordered:
        by_day[_local_date(slot.start, rules.zone)].append(slot)
    return tuple(day for day in _usable_days(rules) if not _has_room(day, by_day[day], busy, rules))


def _has_room(
    day: date, day_slots: Sequence[PlacedSlot], busy: Sequence[Interval], rules: SchedulingRules
) -> bool:
    sitting = rules.min_session_minutes * MINUTE
    if rules.max_daily_minutes is not None:
        used = sum((slot.end - slot.start for slot in day_slots), timedelta(0))
        if rules.max_daily_minutes * MINUTE - used < sitting:
            return False
    pause = rules.break_minutes * MINUTE
    # A new sitting needs the break on both sides of the slots already there.
    padded = _merge(Interval(slot.start - pause, slot.end + pause) for slot in day_slots)
    free = _subtract(_subtract(_usable_windows(day, rules), busy), padded)
    return any(_round_up_to_grid(gap.start) + sitting <= gap.end for gap in free)
