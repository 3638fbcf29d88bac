from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dateutil.rrule
import pytest

from domain.schedule.recurrence import (
    Occurrence,
    Override,
    RecurrenceError,
    Series,
    find_conflicts,
    local_day_bounds,
    normalise_rrule,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly_paris(rule: str = "FREQ=WEEKLY;BYDAY=MO") -> Series:
    # Monday 17 March 2025, a fortnight before Paris moves to summer time (30 March).
    start = datetime(2025, 3, 17, 9, 0, tzinfo=PARIS)
    return Series(start, start + timedelta(hours=1), "Europe/Paris", rule)


def test_a_paris_weekly_class_stays_at_nine_local_across_the_march_dst_change() -> None:
    series = weekly_paris()
    series.validate()
    starts = list(series.generated_starts(utc(2025, 3, 1), utc(2025, 4, 15)))
    local = [start.astimezone(PARIS) for start in starts]
    assert [s.date() for s in local] == [
        date(2025, 3, 17),
        date(2025, 3, 24),
        date(2025, 3, 31),
        date(2025, 4, 7),
        date(2025, 4, 14),
    ]
    assert {(s.hour, s.minute) for s in local} == {(9, 0)}
    assert [s.utcoffset() for s in local] == [timedelta(hours=h) for h in (1, 1, 2, 2, 2)]
    assert [s.hour for s in starts] == [8, 8, 7, 7, 7]


def test_a_new_york_series_keeps_local_time_through_both_dst_changes() -> None:
    # Thursdays 18:30-20:00 from 6 March 2025: EDT starts 9 March, ends 2 November.
    start = datetime(2025, 3, 6, 18, 30, tzinfo=NEW_YORK)
    series = Series(start, start + timedelta(minutes=90), "America/New_York", "FREQ=WEEKLY")
    series.validate()
    march = [
        s.astimezone(NEW_YORK) for s in series.generated_starts(utc(2025, 3, 1), utc(2025, 3, 15))
    ]
    assert [(s.day, s.hour, s.minute, s.utcoffset()) for s in march] == [
        (6, 18, 30, timedelta(hours=-5)),
        (13, 18, 30, timedelta(hours=-4)),
    ]
    november = [
        s.astimezone(NEW_YORK) for s in series.generated_starts(utc(2025, 10, 28), utc(2025, 11, 8))
    ]
    assert [(s.day, s.hour, s.utcoffset()) for s in november] == [
        (30, 18, timedelta(hours=-4)),
        (6, 18, timedelta(hours=-5)),
    ]


def test_a_local_time_skipped_by_dst_uses_the_offset_before_the_change() -> None:
    # 02:30 does not exist in Paris on 30 March 2025; RFC 5545 makes it 03:30 summer time.
    start = datetime(2025, 3, 29, 2, 30, tzinfo=PARIS)
    series = Series(start, start + timedelta(minutes=30), "Europe/Paris", "FREQ=DAILY;COUNT=3")
    starts = [
        s.astimezone(PARIS) for s in series.generated_starts(utc(2025, 3, 28), utc(2025, 4, 2))
    ]
    assert [(s.day, s.hour, s.minute) for s in starts] == [(29, 2, 30), (30, 3, 30), (31, 2, 30)]


def test_series_until_is_the_end_of_the_last_occurrence() -> None:
    assert weekly_paris("FREQ=WEEKLY;BYDAY=MO;COUNT=3").series_until() == utc(2025, 3, 31, 8)
    assert weekly_paris().series_until() is None
    # A bare UNTIL date includes that whole local day.
    assert weekly_paris("FREQ=WEEKLY;UNTIL=20250331").series_until() == utc(2025, 3, 31, 8)
    # An UTC UNTIL before the third 09:00 (07:00Z) stops the series at the second.
    assert weekly_paris("FREQ=WEEKLY;UNTIL=20250331T065959Z").series_until() == utc(2025, 3, 24, 9)
    one_off = Series(utc(2025, 1, 1, 9), utc(2025, 1, 1, 10), "UTC", None)
    assert one_off.series_until() == utc(2025, 1, 1, 10)


def test_rules_are_normalised() -> None:
    assert normalise_rrule(" rrule:byday=mo,we;freq=weekly ") == "FREQ=WEEKLY;BYDAY=MO,WE"


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("", "empty"),
        ("DTSTART:20250317T090000\nRRULE:FREQ=WEEKLY", "DTSTART"),
        ("FREQ=WEEKLY;DTSTART=20250317T090000", "DTSTART"),
        ("FREQ=WEEKLY\nEXDATE:20250324T090000", "single RRULE"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20250401", "COUNT and UNTIL"),
        ("FREQ=HOURLY", "at most daily"),
        ("FREQ=MINUTELY", "at most daily"),
        ("FREQ=SECONDLY", "at most daily"),
        ("FREQ=DAILY;BYHOUR=9,10", "time of day"),
        ("FREQ=FORTNIGHTLY", "FREQ must be"),
        ("BYDAY=MO", "FREQ is required"),
        ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
        ("FREQ=WEEKLY;;BYDAY=MO", "malformed"),
        ("FREQ=WEEKLY;X-NAME=1", "not a supported"),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL"),
        ("FREQ=WEEKLY;COUNT=-1", "COUNT"),
        ("FREQ=WEEKLY;UNTIL=tomorrow", "UNTIL"),
        ("FREQ=WEEKLY;UNTIL=20250230", "not a valid date"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY item"),
        ("FREQ=WEEKLY;BYDAY=2MO", "ordinal"),
        ("FREQ=MONTHLY;BYDAY=6MO", "ordinal"),
        ("FREQ=YEARLY;BYWEEKNO=12;BYDAY=1MO", "ordinal"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY takes"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY takes"),
        ("FREQ=WEEKLY;BYMONTHDAY=3", "cannot be used with FREQ=WEEKLY"),
        ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH takes"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH takes"),
        ("FREQ=MONTHLY;BYYEARDAY=1", "cannot be used"),
        ("FREQ=DAILY;BYSETPOS=2", "BYSETPOS takes numbers from 1 to 1 or -1 to -1"),
        ("FREQ=WEEKLY;WKST=XX", "WKST"),
    ],
)
def test_bad_rules_are_rejected(rule: str, fragment: str) -> None:
    with pytest.raises(RecurrenceError) as caught:
        weekly_paris(rule).validate()
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=TU",  # the start is a Monday
        "FREQ=WEEKLY;UNTIL=20250301",  # ends before it starts
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # matches nothing, ever
        "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",  # one candidate a week, never a second
    ],
)
def test_a_start_that_is_not_the_first_occurrence_is_rejected_quickly(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dateutil rebuilds its per-month tables each month it scans: counting rebuilds measures the
    # work without a clock. A rule matching nothing, scanned from the start, runs to year 9999.
    scanned: list[tuple[int, int]] = []
    rebuild = dateutil.rrule._iterinfo.rebuild

    def counting_rebuild(self: Any, year: int, month: int) -> None:
        scanned.append((year, month))
        rebuild(self, year, month)

    monkeypatch.setattr(dateutil.rrule._iterinfo, "rebuild", counting_rebuild)
    with pytest.raises(RecurrenceError):
        weekly_paris(rule).validate()
    assert len(scanned) <= 12 * 401  # at most one 400-year calendar cycle


def test_blocks_must_end_after_start_and_last_at_most_a_day() -> None:
    start = utc(2025, 1, 1, 9)
    for end in (start, start - timedelta(minutes=1), start + timedelta(hours=24, seconds=1)):
        with pytest.raises(RecurrenceError) as caught:
            Series(start, end, "UTC", None).validate()
        assert caught.value.field == "end"
    Series(start, start + timedelta(hours=24), "UTC", None).validate()


def test_is_occurrence_matches_generated_instants_in_any_offset() -> None:
    series = weekly_paris()
    assert series.is_occurrence(datetime(2025, 3, 31, 9, tzinfo=PARIS))
    assert series.is_occurrence(utc(2025, 3, 31, 7))
    assert not series.is_occurrence(utc(2025, 3, 31, 8))  # 10:00 local after the change
    assert not series.is_occurrence(utc(2025, 3, 10, 8))  # before the series starts


def test_exceptions_move_retitle_and_cancel_single_occurrences() -> None:
    series = weekly_paris()
    second, third, fourth = utc(2025, 3, 24, 8), utc(2025, 3, 31, 7), utc(2025, 4, 7, 7)
    overrides = {
        second: Override(original_start=second, cancelled=True),
        # Moved out of the window below, from a day inside it.
        third: Override(
            original_start=third, new_start=utc(2025, 5, 1, 7), new_end=utc(2025, 5, 1, 8)
        ),
        # Moved into the window from a day after it.
        fourth: Override(
            original_start=fourth,
            new_start=utc(2025, 3, 18, 15),
            new_end=utc(2025, 3, 18, 16),
            new_title="Moved",
        ),
    }
    found = series.expand(overrides, utc(2025, 3, 17), utc(2025, 4, 1))
    assert found == [
        Occurrence(
            original_start=utc(2025, 3, 17, 8), start=utc(2025, 3, 17, 8), end=utc(2025, 3, 17, 9)
        ),
        Occurrence(
            original_start=fourth,
            start=utc(2025, 3, 18, 15),
            end=utc(2025, 3, 18, 16),
            title="Moved",
            is_exception=True,
        ),
    ]
    retitled = {third: Override(original_start=third, new_title="Exam")}
    [occurrence] = series.expand(retitled, utc(2025, 3, 31), utc(2025, 4, 1))
    assert (occurrence.start, occurrence.title, occurrence.is_exception) == (third, "Exam", True)


def test_the_conflict_horizon_is_the_first_90_days() -> None:
    start = utc(2025, 1, 1, 6)
    daily = Series(start, start + timedelta(hours=1), "UTC", "FREQ=DAILY")
    horizon = daily.horizon({start: Override(original_start=start, cancelled=True)})
    assert len(horizon) == 89
    assert horizon[0].start == utc(2025, 1, 2, 6)
    assert horizon[-1].start == utc(2025, 3, 31, 6)  # day 90; 1 April is outside
    assert len(weekly_paris().horizon({})) == 13


def test_conflicts_are_overlaps_not_touching_blocks() -> None:
    mine = [
        Occurrence(utc(2025, 1, 1, 9), utc(2025, 1, 1, 9), utc(2025, 1, 1, 10)),
        Occurrence(utc(2025, 1, 8, 9), utc(2025, 1, 8, 9), utc(2025, 1, 8, 10)),
    ]
    others = [
        ("touching-before", Occurrence(utc(2025, 1, 1, 8), utc(2025, 1, 1, 8), utc(2025, 1, 1, 9))),
        (
            "touching-after",
            Occurrence(utc(2025, 1, 1, 10), utc(2025, 1, 1, 10), utc(2025, 1, 1, 11)),
        ),
        (
            "inside",
            Occurrence(utc(2025, 1, 8, 9, 15), utc(2025, 1, 8, 9, 15), utc(2025, 1, 8, 9, 30)),
        ),
        ("around", Occurrence(utc(2025, 1, 1, 8), utc(2025, 1, 1, 8), utc(2025, 1, 1, 12))),
        ("between", Occurrence(utc(2025, 1, 4, 9), utc(2025, 1, 4, 9), utc(2025, 1, 4, 10))),
    ]
    assert [key for key, _ in find_conflicts(mine, others)] == ["around", "inside"]


def test_local_day_bounds_follow_the_zone() -> None:
    # 30 March 2025 in Paris lasts 23 hours.
    start, end = local_day_bounds(date(2025, 3, 30), date(2025, 3, 30), PARIS)
    assert (start, end) == (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=MO",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=MO,SA",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;BYSETPOS=1",
        "FREQ=WEEKLY;BYDAY=MO;BYMONTH=3,4,10,11",
        "FREQ=DAILY;INTERVAL=5",
        "FREQ=DAILY;BYDAY=MO,TU;BYMONTHDAY=15,16,17,18,19,20,21",
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20290101T235959",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=200",
        "FREQ=MONTHLY;BYDAY=3MO",
    ],
)
def test_a_window_years_after_the_start_lists_what_walking_from_the_start_lists(
    rule: str,
) -> None:
    series = weekly_paris(rule)
    series.validate()
    walked = dateutil.rrule.rrulestr(rule, dtstart=datetime(2025, 3, 17, 9, 0))
    # Windows across both DST changes, in the first cycle and years later.
    for first in (date(2025, 3, 10), date(2026, 3, 20), date(2027, 10, 20), date(2028, 12, 30)):
        lo, hi = local_day_bounds(first, first + timedelta(days=40), PARIS)
        expected = [
            local.replace(tzinfo=PARIS).astimezone(UTC)
            for local in walked.between(
                lo.astimezone(PARIS).replace(tzinfo=None),
                hi.astimezone(PARIS).replace(tzinfo=None),
                inc=True,
            )
        ]
        assert list(series.generated_starts(lo, hi)) == expected, (rule, first)
