"""RFC 5545 recurrence for schedule blocks: rule validation, expansion, exceptions, conflicts.

Pure logic, no database. A series expands on wall-clock time in its own zone, so a weekly 09:00
class stays at 09:00 local across DST changes; every instant leaving this module is in UTC.
Local times that do not exist (spring-forward gap) or exist twice (fall-back) resolve with
`fold=0`, as RFC 5545 prescribes: the offset in force before the transition.
"""

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import TypeVar
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

# Outside this range zone arithmetic can overflow and rule iteration gets needlessly long.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_BLOCK_DURATION = timedelta(hours=24)
MAX_RRULE_LENGTH = 500
MAX_INTERVAL = 1000
MAX_COUNT = 10_000
# Conflicts of a recurring block are looked for in its first 90 days only.
CONFLICT_HORIZON = timedelta(days=90)

SUPPORTED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_SUB_DAILY_FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY")
_TIME_OF_DAY_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# Checked here before dateutil sees them: its own errors surface late, some only mid-iteration.
_CALENDAR_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST")
_ALLOWED_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", *_CALENDAR_PARTS)
_NUMBER = re.compile(r"^\d{1,6}$")
_SIGNED_NUMBER = re.compile(r"^([+-]?)(\d{1,3})$")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"^([+-]?(\d{1,2}))?(MO|TU|WE|TH|FR|SA|SU)$")
_DAYS_PER_PERIOD = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}
# Part: (negative values allowed, highest absolute value, the FREQs RFC 5545 allows it with).
_NUMBER_LISTS: dict[str, tuple[bool, int, tuple[str, ...]]] = {
    "BYMONTH": (False, 12, SUPPORTED_FREQUENCIES),
    "BYMONTHDAY": (True, 31, ("DAILY", "MONTHLY", "YEARLY")),
    "BYYEARDAY": (True, 366, ("YEARLY",)),
    "BYWEEKNO": (True, 53, ("YEARLY",)),
    "BYSETPOS": (True, 366, SUPPORTED_FREQUENCIES),
}
# Frequencies whose occurrences repeat every INTERVAL periods of wall time, in days.
_FIXED_CYCLE_DAYS = {"DAILY": 1, "WEEKLY": 7}
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z)?)?$")
# The Gregorian calendar repeats every 400 years (same weekdays, same leap years).
_CALENDAR_CYCLE_YEARS = 400
_PROBE_YEAR = 9598

KeyT = TypeVar("KeyT")


class RecurrenceError(ValueError):
    """An invalid series; `field` names the input at fault (`recurrence`, `end`, ...)."""

    def __init__(self, message: str, field: str = "recurrence") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _parse_parts(text: str) -> dict[str, str]:
    value = text.strip()
    if not value:
        raise RecurrenceError("the rule is empty")
    if len(value) > MAX_RRULE_LENGTH:
        raise RecurrenceError(f"the rule is longer than {MAX_RRULE_LENGTH} characters")
    upper = value.upper()
    if "DTSTART" in upper:
        raise RecurrenceError("DTSTART is not allowed in the rule; the block's start begins it")
    if "\n" in upper or "\r" in upper:
        raise RecurrenceError("give a single RRULE, without other properties")
    upper = upper.removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for item in upper.split(";"):
        name, sep, part_value = item.partition("=")
        if not sep or not name or not part_value:
            raise RecurrenceError(f"malformed rule part {item!r}; expected NAME=VALUE")
        if name in parts:
            raise RecurrenceError(f"{name} is given twice")
        parts[name] = part_value
    _check_parts(parts)
    # FREQ first, the rest as given: one spelling per rule.
    return {"FREQ": parts["FREQ"]} | parts


def _check_parts(parts: Mapping[str, str]) -> None:
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("FREQ is required")
    if freq in _SUB_DAILY_FREQUENCIES:
        raise RecurrenceError(f"FREQ={freq} is not supported; a block repeats at most daily")
    if freq not in SUPPORTED_FREQUENCIES:
        raise RecurrenceError(f"FREQ must be one of {', '.join(SUPPORTED_FREQUENCIES)}")
    for name in parts:
        if name in _TIME_OF_DAY_PARTS:
            raise RecurrenceError(f"{name} is not supported; the time of day comes from start")
        if name not in _ALLOWED_PARTS:
            raise RecurrenceError(f"{name} is not a supported rule part")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot be used together")
    for name, limit in (("INTERVAL", MAX_INTERVAL), ("COUNT", MAX_COUNT)):
        if name in parts:
            raw = parts[name]
            if not _NUMBER.match(raw) or not 1 <= int(raw) <= limit:
                raise RecurrenceError(f"{name} must be a whole number from 1 to {limit}")
    if "UNTIL" in parts and not _UNTIL.match(parts["UNTIL"]):
        raise RecurrenceError("UNTIL must look like 20250630, 20250630T170000 or 20250630T170000Z")
    for name, (signed, high, frequencies) in _NUMBER_LISTS.items():
        if name in parts:
            if name == "BYSETPOS":
                # A period never holds more candidates than it has days.
                high = _DAYS_PER_PERIOD[freq]
            _check_number_list(name, parts[name], signed, high)
            if freq not in frequencies:
                raise RecurrenceError(f"{name} cannot be used with FREQ={freq}")
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise RecurrenceError(f"WKST must be one of {', '.join(_WEEKDAYS)}")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, "BYWEEKNO" in parts)


def _check_number_list(name: str, raw: str, signed: bool, high: int) -> None:
    for item in raw.split(","):
        match = _SIGNED_NUMBER.match(item)
        if match is None or not 1 <= int(match.group(2)) <= high or (match[1] and not signed):
            allowed = f"1 to {high} or -{high} to -1" if signed else f"1 to {high}"
            raise RecurrenceError(f"{name} takes numbers from {allowed}")


def _check_byday(raw: str, freq: str, has_weekno: bool) -> None:
    # RFC 5545: an ordinal (e.g. 2MO, -1FR) only with MONTHLY (±1..5) or YEARLY (±1..53).
    limit = {"MONTHLY": 5, "YEARLY": 53}.get(freq, 0)
    if has_weekno:
        limit = 0
    for item in raw.split(","):
        match = _BYDAY.match(item)
        if match is None:
            raise RecurrenceError(f"BYDAY item {item!r} must look like MO, 2TU or -1FR")
        if match.group(2) is not None:
            ordinal = int(match.group(2))
            if not 1 <= ordinal <= limit:
                raise RecurrenceError(f"BYDAY ordinal in {item!r} is not allowed with FREQ={freq}")


def normalise_rrule(text: str) -> str:
    """The rule in one canonical spelling (upper case, no `RRULE:` prefix), or RecurrenceError.

    Only the rule's own syntax is checked here; `Series.validate` checks it against a start.
    """
    return _join(_parse_parts(text))


def _join(parts: Mapping[str, str]) -> str:
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _until_local(raw: str, zone: ZoneInfo) -> datetime:
    """UNTIL as naive wall time in the series' zone; a bare date includes that whole day."""
    match = _UNTIL.match(raw)
    assert match is not None
    day, clock, utc = match.groups()
    try:
        if clock is None:
            return datetime.combine(datetime.strptime(day, "%Y%m%d").date(), time(23, 59, 59))
        parsed = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise RecurrenceError(f"UNTIL {raw} is not a valid date") from exc
    if utc:
        # Clamped first: a far-future UTC instant can overflow when shifted to a zone.
        instant = min(parsed.replace(tzinfo=UTC), LATEST)
        return instant.astimezone(zone).replace(tzinfo=None)
    return parsed


@dataclass(frozen=True)
class Occurrence:
    """One occurrence; `original_start` (UTC) is its identity in the series as generated."""

    original_start: datetime
    start: datetime
    end: datetime
    title: str | None = None
    is_exception: bool = False


@dataclass(frozen=True)
class Override:
    """A stored exception: one occurrence cancelled, or moved and/or retitled."""

    original_start: datetime
    cancelled: bool = False
    new_start: datetime | None = None
    new_end: datetime | None = None
    new_title: str | None = None


class Series:
    """A block and its recurrence rule, expanded in `timezone`.

    With a rule, the block's own start must be the rule's first occurrence (RFC 5545 leaves any
    other case undefined); `validate` checks that, rows read back are trusted.
    """

    def __init__(
        self, start: datetime, end: datetime, timezone: str, rrule_text: str | None
    ) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise RecurrenceError("start and end must include a UTC offset", field="start")
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)
        self.duration = self.end - self.start
        self.zone = ZoneInfo(timezone)
        self._local_start = self.start.astimezone(self.zone).replace(tzinfo=None)
        self._latest_local = LATEST.astimezone(self.zone).replace(tzinfo=None)
        self._until: datetime | None = None
        self._count: int | None = None
        self._rule: rrule | None = None
        self._parts: dict[str, str] = {}
        if rrule_text is not None:
            self._parts = _parse_parts(rrule_text)
            self._rule = self._build_rule()

    def _build_rule(self) -> rrule:
        parts = dict(self._parts)
        if "UNTIL" in parts:
            until = _until_local(parts.pop("UNTIL"), self.zone)
            # Beyond the supported range the series is as good as unbounded.
            if until < self._latest_local:
                self._until = until
                parts["UNTIL"] = until.strftime("%Y%m%dT%H%M%S")
        if "COUNT" in parts:
            self._count = int(parts["COUNT"])
        return self._parse_rule(parts, self._local_start)

    @staticmethod
    def _parse_rule(parts: Mapping[str, str], dtstart: datetime) -> rrule:
        try:
            rule = rrulestr(_join(parts), dtstart=dtstart)
        except (ValueError, TypeError, OverflowError) as exc:
            raise RecurrenceError(f"invalid rule: {exc}") from exc
        assert isinstance(rule, rrule)
        return rule

    def validate(self) -> None:
        """RecurrenceError unless this is a series the API accepts."""
        for field, value in (("start", self.start), ("end", self.end)):
            if not EARLIEST <= value < LATEST:
                raise RecurrenceError(
                    f"{field} must be between {EARLIEST.year} and {LATEST.year - 1}", field=field
                )
        if self.end <= self.start:
            raise RecurrenceError("end must be after start", field="end")
        if self.duration > MAX_BLOCK_DURATION:
            raise RecurrenceError("a block lasts at most 24 hours", field="end")
        if self._rule is None:
            return
        if self._until is not None and self._until < self._local_start:
            raise RecurrenceError("UNTIL is before the block's start")
        if not self._starts_on_rule():
            raise RecurrenceError(
                "the block's start is not an occurrence of the rule; start the block on the "
                "first occurrence (e.g. a Monday for BYDAY=MO)"
            )

    def _starts_on_rule(self) -> bool:
        """Is the start the rule's first occurrence?

        dateutil scans period by period until something matches, which for a rule matching
        nothing runs to year 9999 (seconds for FREQ=DAILY). The probe runs on the same calendar
        date 400·k years later, near 9999, so the scan is short and the answer the same.
        """
        probe_parts = {k: v for k, v in self._parts.items() if k not in ("COUNT", "UNTIL")}
        year = self._local_start.year
        shift = (_PROBE_YEAR - year + _CALENDAR_CYCLE_YEARS - 1) // _CALENDAR_CYCLE_YEARS
        probe_start = self._local_start.replace(year=year + _CALENDAR_CYCLE_YEARS * shift)
        probe = self._parse_rule(probe_parts, probe_start)
        try:
            return next(iter(probe), None) == probe_start
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            raise RecurrenceError(f"invalid rule: {exc}") from exc

    def _to_utc(self, local: datetime) -> datetime:
        if local == self._local_start:
            # Keeps the stored start exact, including its fold in an ambiguous hour.
            return self.start
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def generated_starts(self, lo: datetime, hi: datetime) -> Iterator[datetime]:
        """Starts (UTC) of generated occurrences with lo <= start <= hi, in order."""
        if self._rule is None:
            if lo <= self.start <= hi:
                yield self.start
            return
        # A day of slack either side: wall time maps to UTC non-monotonically around DST.
        slack = timedelta(days=1)
        local_lo = max(lo, EARLIEST + slack).astimezone(self.zone).replace(tzinfo=None) - slack
        local_hi = min(hi, LATEST - slack).astimezone(self.zone).replace(tzinfo=None) + slack
        for local in self._rule_near(local_lo).between(local_lo, local_hi, inc=True):
            start = self._to_utc(local)
            if lo <= start <= hi:
                yield start

    def _rule_near(self, local_lo: datetime) -> rrule:
        """The rule, started as late as possible before `local_lo` without changing what it
        generates from there on.

        dateutil walks every period from the rule's start, so a series running for a year cost
        its 52 weeks on every read of one month. DAILY and WEEKLY rules repeat exactly every
        INTERVAL days or weeks of wall time (their other parts select by calendar, not by
        count), so starting them a whole number of cycles later yields the same occurrences from
        there. COUNT counts from the first occurrence: such a rule keeps its start.
        """
        assert self._rule is not None
        days = _FIXED_CYCLE_DAYS.get(self._parts["FREQ"])
        if days is None or self._count is not None or local_lo <= self._local_start:
            return self._rule
        cycle = timedelta(days=days * int(self._parts.get("INTERVAL", "1")))
        cycles = (local_lo - self._local_start) // cycle
        if cycles == 0:
            return self._rule
        return self._rule.replace(dtstart=self._local_start + cycles * cycle)

    def is_occurrence(self, instant: datetime) -> bool:
        instant = instant.astimezone(UTC)
        return any(start == instant for start in self.generated_starts(instant, instant))

    def series_until(self) -> datetime | None:
        """End of the last occurrence; None when the series has no end in the supported range."""
        if self._rule is None:
            return self.end
        if self._until is None and self._count is None:
            return None
        last: datetime | None = None
        # COUNT/UNTIL bound this loop; the range check stops sparse rules that outrun it.
        for local in self._rule:
            if local >= self._latest_local:
                return None
            last = local
        if last is None:
            return None
        return self._to_utc(last) + self.duration

    def _apply(self, start: datetime, override: Override | None) -> Occurrence | None:
        end = start + self.duration
        if override is None:
            return Occurrence(original_start=start, start=start, end=end)
        if override.cancelled:
            return None
        return Occurrence(
            original_start=start,
            start=override.new_start.astimezone(UTC) if override.new_start else start,
            end=override.new_end.astimezone(UTC) if override.new_end else end,
            title=override.new_title,
            is_exception=True,
        )

    def occurrence(
        self, original_start: datetime, overrides: Mapping[datetime, Override]
    ) -> Occurrence | None:
        """The occurrence generated at `original_start` as it stands (None: cancelled)."""
        original_start = original_start.astimezone(UTC)
        return self._apply(original_start, overrides.get(original_start))

    def expand(
        self, overrides: Mapping[datetime, Override], lo: datetime, hi: datetime
    ) -> list[Occurrence]:
        """Occurrences overlapping [lo, hi), exceptions applied, cancelled ones left out.

        `overrides` is keyed by `original_start` (aware datetimes compare as instants).
        """
        found: list[Occurrence] = []
        generated_here: set[datetime] = set()
        for start in self.generated_starts(lo - self.duration, hi):
            if not (start < hi and start + self.duration > lo):
                continue
            generated_here.add(start)
            occurrence = self._apply(start, overrides.get(start))
            if occurrence is not None and occurrence.start < hi and occurrence.end > lo:
                found.append(occurrence)
        # An occurrence moved into the window from outside it.
        for override in overrides.values():
            original = override.original_start.astimezone(UTC)
            if original in generated_here or override.cancelled or override.new_start is None:
                continue
            moved = self._apply(original, override)
            if (
                moved is not None
                and moved.start < hi
                and moved.end > lo
                and self.is_occurrence(original)
            ):
                found.append(moved)
        found.sort(key=lambda occurrence: (occurrence.start, occurrence.end))
        return found

    def horizon(self, overrides: Mapping[datetime, Override]) -> list[Occurrence]:
        """What conflicts are checked for: the occurrences generated in the first 90 days.

        Blocks repeat at most daily, so that is at most 90 occurrences.
        """
        horizon_end = self.start + CONFLICT_HORIZON
        starts = self.generated_starts(self.start, horizon_end)
        applied = (
            self._apply(start, overrides.get(start)) for start in starts if start < horizon_end
        )
        return [occurrence for occurrence in applied if occurrence is not None]


def local_day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `first`, start of the day after `last`) in `zone`, as UTC instants."""
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def find_conflicts(
    mine: Sequence[Occurrence], others: Iterable[tuple[KeyT, Occurrence]]
) -> list[tuple[KeyT, Occurrence]]:
    """The `others` overlapping any of `mine` (touching end to start is no overlap), by start."""
    if not mine:
        return []
    ordered = sorted(mine, key=lambda occurrence: occurrence.start)
    starts = [occurrence.start for occurrence in ordered]
    # latest_end[i]: the latest end among the i+1 earliest-starting of mine.
    latest_end = list(accumulate((occurrence.end for occurrence in ordered), max))
    hits = []
    for key, other in others:
        before = bisect_left(starts, other.end)
        if before and latest_end[before - 1] > other.start:
            hits.append((key, other))
    hits.sort(key=lambda hit: (hit[1].start, hit[1].end))
    return hits
