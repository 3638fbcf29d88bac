"""A brute-force reference for the plan scheduler, written apart from `domain.plans.scheduler`.

It imports only the scheduler's input and output types. Time is a list of UTC minutes; the wall
clock of the user's zone is read once per minute with `zoneinfo`, and every rule is checked by
scanning minutes, never by the scheduler's interval arithmetic. Meant for small calendars (a few
days): it costs a zone conversion per minute of the range.

Windows, read off the scheduler's documented rules:
- a window of day D from S to E opens at the first minute (in real time) whose wall clock reads
  D S or later, and closes at the first minute whose wall clock reads D E or later (E = 00:00 is
  midnight at the end of D). A wall time skipped by a DST jump is therefore "reached" at the jump,
  and a repeated one at its first occurrence;
- a slot belongs to day D when every one of its minutes lies in an open window of D;
- the grid is every 5 minutes of UTC; the break applies between consecutive slots starting on the
  same local day; the cap counts the minutes of slots starting on a local day.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from domain.plans.scheduler import Interval, PlacedSlot, SchedulingRules, SessionRequest

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GRID_MINUTES = 5


def to_minute(instant: datetime) -> int:
    """Whole minutes since the epoch; instants in these calendars fall on whole minutes."""
    seconds = (instant - _EPOCH).total_seconds()
    assert seconds % 60 == 0, f"{instant} is not on a whole minute"
    return int(seconds // 60)


def from_minute(minute: int) -> datetime:
    return _EPOCH + timedelta(minutes=minute)


def splittable(minutes: int, shortest: int, longest: int) -> bool:
    """Whether `minutes` can be cut into parts of `shortest` to `longest` (0 needs no part)."""
    return minutes == 0 or any(
        parts * shortest <= minutes <= parts * longest for parts in range(1, minutes + 1)
    )


def shortest_part(total: int, rules: SchedulingRules) -> int:
    """The documented minimum: `min_session_minutes`, unless the session cannot be cut into parts
    of at least that at all; then the shortest part of its even split."""
    if splittable(total, rules.min_session_minutes, rules.session_minutes):
        return min(rules.min_session_minutes, total)
    parts = -(-total // rules.session_minutes)
    return total // parts


@dataclass
class Calendar:
    """Every minute of the range with the local day whose window holds it (if any)."""

    rules: SchedulingRules
    first: int  # first minute scanned
    day_of: dict[int, date]  # minute -> local day whose available window holds it
    busy: set[int]
    not_before: int
    _sorted_runs: list[tuple[int, int]] | None = None

    @classmethod
    def build(cls, busy: Sequence[Interval], rules: SchedulingRules) -> "Calendar":
        zone = ZoneInfo(rules.timezone)
        # A day's margin either side covers every offset in use.
        first = to_minute(datetime.combine(rules.window_start, time(0), tzinfo=UTC)) - 24 * 60
        last = to_minute(datetime.combine(rules.deadline, time(0), tzinfo=UTC)) + 3 * 24 * 60
        minutes = range(first, last)
        walls = [from_minute(m).astimezone(zone).replace(tzinfo=None) for m in minutes]

        def reached(wall: datetime) -> int:
            """The first minute whose wall clock reads `wall` or later."""
            # No zone is ahead of UTC by 15 hours: earlier minutes read an earlier wall time.
            index = max(0, to_minute(wall.replace(tzinfo=UTC)) - 15 * 60 - first)
            while walls[index] < wall:
                index += 1
            return first + index

        day_of: dict[int, date] = {}
        day = rules.window_start
        while day <= rules.deadline:
            for window in rules.available_hours:
                if window.weekday != day.weekday():
                    continue
                end_day = day + timedelta(days=1) if window.end == time(0) else day
                opens = reached(datetime.combine(day, window.start))
                closes = reached(datetime.combine(end_day, window.end))
                for minute in range(opens, closes):
                    day_of[minute] = day
            day += timedelta(days=1)
        busy_minutes = {
            minute
            for interval in busy
            for minute in range(
                int((interval.start - _EPOCH).total_seconds() // 60),
                -int(-(interval.end - _EPOCH).total_seconds() // 60),
            )
        }
        return cls(rules, first, day_of, busy_minutes, to_minute(rules.not_before))

    def local_day(self, minute: int) -> date:
        return from_minute(minute).astimezone(ZoneInfo(self.rules.timezone)).date()

    def slot_day(self, start: int, end: int) -> date | None:
        """The day whose windows hold every minute of [start, end) and none of it busy."""
        if start < self.not_before:
            return None
        days = {self.day_of.get(minute) for minute in range(start, end)}
        if len(days) != 1 or None in days:
            return None
        if any(minute in self.busy for minute in range(start, end)):
            return None
        (day,) = days
        return day

    def sorted_free_runs(self) -> list[tuple[int, int]]:
        if self._sorted_runs is None:
            self._sorted_runs = sorted(self.free_runs().items())
        return self._sorted_runs

    def free_runs(self) -> dict[int, int]:
        """For each free minute at or after not_before: how many free minutes of the same
        window day follow from it, itself included."""
        runs: dict[int, int] = {}
        for minute in sorted(self.day_of, reverse=True):
            if minute < self.not_before or minute in self.busy:
                continue
            following = runs.get(minute + 1, 0)
            same_day = self.day_of.get(minute + 1) == self.day_of[minute]
            runs[minute] = 1 + (following if same_day else 0)
        return runs


def constraint_violations(
    slots: Sequence[PlacedSlot],
    requests: Sequence[SessionRequest],
    busy: Sequence[Interval],
    rules: SchedulingRules,
    calendar: Calendar | None = None,
) -> list[str]:
    """Every broken rule, in words; empty when the slots obey them all."""
    calendar = calendar or Calendar.build(busy, rules)
    problems: list[str] = []
    spans = [(to_minute(slot.start), to_minute(slot.end), slot) for slot in slots]
    day_minutes: dict[date, int] = defaultdict(int)
    for start, end, slot in spans:
        if start % GRID_MINUTES:
            problems.append(f"{slot} starts off the grid")
        if calendar.slot_day(start, end) is None:
            problems.append(f"{slot} is not inside one free available window after not_before")
        length = end - start
        total = requests[slot.session_index].minutes
        if not shortest_part(total, rules) <= length <= rules.session_minutes:
            problems.append(f"{slot} is {length} minutes, outside its part lengths")
        day_minutes[calendar.local_day(start)] += length
    if list(slots) != sorted(slots, key=lambda slot: slot.start):
        problems.append("slots are not in time order")
    ordered = sorted(spans, key=lambda span: span[0])
    for (_, earlier_end, earlier), (later_start, _, later) in pairwise(ordered):
        gap = later_start - earlier_end
        if gap < 0:
            problems.append(f"{earlier} overlaps {later}")
        same_day = calendar.local_day(to_minute(earlier.start)) == calendar.local_day(later_start)
        if same_day and gap < rules.break_minutes:
            problems.append(f"only {gap} minutes between {earlier} and {later}")
        if later.session_index < earlier.session_index:
            problems.append(f"{later} comes after {earlier} but belongs to an earlier session")
    if rules.max_daily_minutes is not None:
        for day, minutes in day_minutes.items():
            if minutes > rules.max_daily_minutes:
                problems.append(f"{minutes} minutes on {day}, over the cap")
    placed: dict[int, int] = defaultdict(int)
    for index in sorted({slot.session_index for slot in slots}):
        parts = [slot for slot in slots if slot.session_index == index]
        if [slot.part for slot in parts] != list(range(1, len(parts) + 1)):
            problems.append(f"session {index} has parts numbered {[s.part for s in parts]}")
        placed[index] = sum(to_minute(s.end) - to_minute(s.start) for s in parts)
    for index, request in enumerate(requests):
        if placed[index] > request.minutes:
            problems.append(f"session {index} got {placed[index]} of {request.minutes} minutes")
        later_placed = any(placed[later] for later in range(index + 1, len(requests)))
        if placed[index] < request.minutes and later_placed:
            problems.append(f"session {index} is short, yet a later session was placed")
        remainder = request.minutes - placed[index]
        if not splittable(remainder, shortest_part(request.minutes, rules), rules.session_minutes):
            problems.append(f"session {index} leaves {remainder} minutes no sitting can take")
    return problems


def _preferred_grid_minute(request: SessionRequest) -> int | None:
    if request.preferred_start is None:
        return None
    seconds = (request.preferred_start - _EPOCH).total_seconds()
    minute = -int(-seconds // 60)
    return minute + (-minute % GRID_MINUTES)


def _first_legal_part(
    earlier_slots: Sequence[PlacedSlot],
    session: int,
    requests: Sequence[SessionRequest],
    calendar: Calendar,
    before: int | None = None,
) -> tuple[int, int] | None:
    """The earliest (start, length) at which the next part of `session` could go after
    `earlier_slots`, starting before `before` (anywhere when None)."""
    rules = calendar.rules
    request = requests[session]
    done = sum(
        to_minute(s.end) - to_minute(s.start) for s in earlier_slots if s.session_index == session
    )
    remaining = request.minutes - done
    shortest = shortest_part(request.minutes, rules)
    lengths = [
        length
        for length in range(shortest, min(rules.session_minutes, remaining) + 1)
        if splittable(remaining - length, shortest, rules.session_minutes)
    ]
    if not lengths:
        return None
    day_minutes: dict[date, int] = defaultdict(int)
    for slot in earlier_slots:
        length = to_minute(slot.end) - to_minute(slot.start)
        day_minutes[calendar.local_day(to_minute(slot.start))] += length
    last = max(earlier_slots, key=lambda slot: slot.end, default=None)
    last_end = to_minute(last.end) if last else calendar.not_before
    last_day = calendar.local_day(to_minute(last.start)) if last else None
    for start, run in calendar.sorted_free_runs():
        if before is not None and start >= before:
            return None
        day = calendar.day_of[start]
        if start % GRID_MINUTES or start < last_end:
            continue
        if day == last_day and start < last_end + rules.break_minutes:
            continue
        room = run
        if rules.max_daily_minutes is not None:
            room = min(room, rules.max_daily_minutes - day_minutes[day])
        if lengths[0] <= room:
            return start, max(length for length in lengths if length <= room)
    return None


def missed_earlier_time(
    slots: Sequence[PlacedSlot],
    requests: Sequence[SessionRequest],
    busy: Sequence[Interval],
    rules: SchedulingRules,
    calendar: Calendar | None = None,
) -> list[str]:
    """Where the placer passed over free time it was bound to take, in words.

    The documented heuristic is greedy earliest fit that only moves forward in time. So each
    slot starts at the earliest legal time after the slots before it (unless it is a first part
    honouring its session's preferred start), and when the plan falls short, no legal next part
    of the first short session exists anywhere after the last slot: a part of an allowed length
    that leaves a splittable remainder, in free available time, after the break, within the
    day's cap. That is the bound it promises; it does not promise an optimal packing.
    """
    calendar = calendar or Calendar.build(busy, rules)
    found = []
    for index, slot in enumerate(slots):
        start = to_minute(slot.start)
        request = requests[slot.session_index]
        if slot.part == 1 and _preferred_grid_minute(request) == start:
            continue
        earlier = _first_legal_part(slots[:index], slot.session_index, requests, calendar, start)
        if earlier is not None:
            found.append(f"{slot} placed, yet {earlier[1]} minutes from {earlier[0]} were free")
    placed: dict[int, int] = defaultdict(int)
    for slot in slots:
        placed[slot.session_index] += to_minute(slot.end) - to_minute(slot.start)
    short = next((i for i, r in enumerate(requests) if placed[i] < r.minutes), None)
    if short is not None:
        unused = _first_legal_part(slots, short, requests, calendar)
        if unused is not None:
            start, length = unused
            when = from_minute(start).astimezone(ZoneInfo(rules.timezone))
            found.append(f"session {short} falls short, yet {length} minutes from {when} were free")
    return found
