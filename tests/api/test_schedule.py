import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.reminders.models import Reminder
from domain.schedule.models import ScheduleBlock, ScheduleException
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.courses import create_course, enroll
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block, create_exception, create_reminder
from tests.fixtures.factories.users import auth_headers, create_user

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
# A Monday two weeks before Paris changes to summer time (Sunday 30 March 2025).
MONDAY_0900_PARIS = datetime(2025, 3, 17, 9, 0, tzinfo=PARIS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _reload(session: AsyncSession, block: ScheduleBlock) -> ScheduleBlock:
    stored = await session.get(ScheduleBlock, block.id, populate_existing=True)
    assert stored is not None
    return stored


def _block_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Algebra",
        "start": "2025-06-10T09:00:00+02:00",
        "end": "2025-06-10T10:30:00+02:00",
        "kind": "study",
    }
    body.update(overrides)
    return body


async def test_creating_a_one_off_block_stores_utc_and_the_users_zone(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    response = await client.post("/schedule", headers=auth_headers(codec, user), json=_block_body())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Algebra"
    assert body["start"] == "2025-06-10T09:00:00+02:00"
    assert body["end"] == "2025-06-10T10:30:00+02:00"
    assert body["timezone"] == "Europe/Paris"
    assert body["recurrence"] is None
    assert body["recurring"] is False
    assert body["series_until"] == "2025-06-10T10:30:00+02:00"
    assert body["kind"] == "study"
    assert body["conflicts"] == []
    assert body["exceptions"] == []
    stored = await db_session.get(ScheduleBlock, body["id"])
    assert stored is not None
    assert stored.user_id == user.id
    assert (stored.start_at, stored.end_at) == (utc(2025, 6, 10, 7), utc(2025, 6, 10, 8, 30))

    fetched = await client.get(f"/schedule/blocks/{body['id']}", headers=auth_headers(codec, user))
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in body.items() if k != "conflicts"}


async def test_a_weekly_paris_class_stays_at_nine_local_across_dst(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    response = await client.post(
        "/schedule",
        headers=headers,
        json=_block_body(
            title="Physics",
            kind="class",
            start=MONDAY_0900_PARIS.isoformat(),
            end=(MONDAY_0900_PARIS + timedelta(hours=1)).isoformat(),
            recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        ),
    )
    assert response.status_code == 201, response.text
    block = response.json()
    assert block["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=4"
    assert block["series_until"] == "2025-04-07T10:00:00+02:00"

    listing = await client.get(
        "/schedule", headers=headers, params={"from": "2025-03-17", "to": "2025-04-13"}
    )
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert [item["start"] for item in items] == [
        "2025-03-17T09:00:00+01:00",
        "2025-03-24T09:00:00+01:00",
        "2025-03-31T09:00:00+02:00",
        "2025-04-07T09:00:00+02:00",
    ]
    assert items[2]["end"] == "2025-03-31T10:00:00+02:00"
    assert items[2]["original_start"] == items[2]["start"]
    assert {item["block_id"] for item in items} == {block["id"]}
    assert all(item["recurring"] and not item["is_exception"] for item in items)
    assert {(item["title"], item["kind"]) for item in items} == {("Physics", "class")}


async def test_a_new_york_series_viewed_from_utc_shifts_by_an_hour_at_dst(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="UTC")
    headers = auth_headers(codec, user)
    start = datetime(2025, 3, 3, 9, 0, tzinfo=NEW_YORK)
    response = await client.post(
        "/schedule",
        headers=headers,
        json=_block_body(
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
            timezone="America/New_York",
            recurrence="FREQ=WEEKLY",
        ),
    )
    assert response.status_code == 201, response.text
    assert response.json()["timezone"] == "America/New_York"
    assert response.json()["start"] == "2025-03-03T09:00:00-05:00"
    assert response.json()["series_until"] is None
    listing = await client.get(
        "/schedule", headers=headers, params={"from": "2025-03-01", "to": "2025-03-16"}
    )
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC from 9 March.
    assert [item["start"] for item in listing.json()["items"]] == [
        "2025-03-03T14:00:00Z",
        "2025-03-10T13:00:00Z",
    ]


async def test_the_date_window_is_a_day_of_the_users_zone(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="America/Los_Angeles")
    late = datetime(2025, 6, 10, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    block = await create_block(db_session, user, late, late + timedelta(minutes=20))
    headers = auth_headers(codec, user)
    # 23:30 in Los Angeles on the 10th is already the 11th in UTC.
    on_the_10th = await client.get("/schedule", headers=headers, params={"date": "2025-06-10"})
    assert on_the_10th.status_code == 200
    assert [item["block_id"] for item in on_the_10th.json()["items"]] == [str(block.id)]
    assert on_the_10th.json()["items"][0]["start"] == "2025-06-10T23:30:00-07:00"
    on_the_11th = await client.get("/schedule", headers=headers, params={"date": "2025-06-11"})
    assert on_the_11th.json()["items"] == []
    as_range = await client.get(
        "/schedule", headers=headers, params={"from": "2025-06-09", "to": "2025-06-10"}
    )
    assert len(as_range.json()["items"]) == 1


async def test_listing_is_sorted_and_shows_only_the_callers_blocks(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    late = await create_block(db_session, user, utc(2025, 5, 5, 15), title="Late")
    early = await create_block(db_session, user, utc(2025, 5, 5, 8), title="Early")
    await create_block(db_session, other, utc(2025, 5, 5, 10), title="Not mine")
    await create_block(db_session, user, utc(2025, 5, 6, 10), title="Next day")
    response = await client.get(
        "/schedule", headers=auth_headers(codec, user), params={"date": "2025-05-05"}
    )
    assert [item["block_id"] for item in response.json()["items"]] == [
        str(early.id),
        str(late.id),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2025-01-01"},
        {"to": "2025-01-01"},
        {"date": "2025-01-01", "from": "2025-01-01", "to": "2025-01-02"},
        {"from": "2025-01-10", "to": "2025-01-09"},
        {"from": "2025-01-01", "to": "2025-04-03"},  # 93 days
        {"date": "not-a-date"},
        {"date": "9999-12-31"},
    ],
)
async def test_bad_windows_are_422(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    params: dict[str, str],
) -> None:
    user = await create_user(db_session)
    response = await client.get("/schedule", headers=auth_headers(codec, user), params=params)
    body = assert_error(response, 422, "validation_error")
    assert body["details"][0]["loc"][0] == "query"


async def test_a_92_day_window_is_accepted(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    await create_block(db_session, user, utc(2025, 4, 2, 9))
    response = await client.get(
        "/schedule",
        headers=auth_headers(codec, user),
        params={"from": "2025-01-01", "to": "2025-04-02"},
    )
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


async def test_moving_and_cancelling_single_occurrences(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(
        db_session, user, MONDAY_0900_PARIS, rrule="FREQ=WEEKLY;COUNT=4", title="Physics"
    )
    second, third = "2025-03-24T09:00:00+01:00", "2025-03-31T09:00:00+02:00"

    moved = await client.patch(
        f"/schedule/{block.id}/occurrences/{second}",
        headers=headers,
        json={"start": "2025-03-25T14:00:00+01:00"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"] == "2025-03-25T14:00:00+01:00"
    assert moved.json()["end"] == "2025-03-25T15:00:00+01:00"  # duration kept
    assert moved.json()["original_start"] == second
    assert moved.json()["is_exception"] is True
    assert moved.json()["conflicts"] == []

    # A second edit of the same occurrence updates its exception.
    retitled = await client.patch(
        f"/schedule/{block.id}/occurrences/{second}", headers=headers, json={"title": "Lab"}
    )
    assert retitled.status_code == 200, retitled.text
    assert (retitled.json()["title"], retitled.json()["start"]) == (
        "Lab",
        "2025-03-25T14:00:00+01:00",
    )
    assert await _count(db_session, ScheduleException) == 1

    # The same occurrence named in UTC: 09:00 Paris summer time is 07:00Z.
    cancelled = await client.delete(
        f"/schedule/{block.id}/occurrences/2025-03-31T07:00:00Z", headers=headers
    )
    assert cancelled.status_code == 204

    listing = await client.get(
        "/schedule", headers=headers, params={"from": "2025-03-17", "to": "2025-04-13"}
    )
    items = listing.json()["items"]
    assert [(item["start"], item["title"], item["is_exception"]) for item in items] == [
        ("2025-03-17T09:00:00+01:00", "Physics", False),
        ("2025-03-25T14:00:00+01:00", "Lab", True),
        ("2025-04-07T09:00:00+02:00", "Physics", False),
    ]
    assert items[1]["original_start"] == second

    fetched = await client.get(f"/schedule/blocks/{block.id}", headers=headers)
    assert fetched.json()["exceptions"] == [
        {
            "original_start": second,
            "cancelled": False,
            "start": "2025-03-25T14:00:00+01:00",
            "end": "2025-03-25T15:00:00+01:00",
            "title": "Lab",
        },
        {"original_start": third, "cancelled": True, "start": None, "end": None, "title": None},
    ]

    # A cancelled occurrence is gone: editing or cancelling it again is 404.
    again = await client.delete(f"/schedule/{block.id}/occurrences/{third}", headers=headers)
    assert_error(again, 404, "not_found")
    edit = await client.patch(
        f"/schedule/{block.id}/occurrences/{third}", headers=headers, json={"title": "x"}
    )
    assert_error(edit, 404, "not_found")


async def test_an_occurrence_that_the_series_does_not_generate_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(db_session, user, MONDAY_0900_PARIS, rrule="FREQ=WEEKLY;COUNT=4")
    for not_an_occurrence in (
        "2025-03-24T10:00:00+01:00",  # right day, wrong time
        "2025-03-31T09:00:00+01:00",  # 09:00 winter time, after the change
        "2025-04-14T09:00:00+02:00",  # after COUNT ran out
        "2025-03-10T09:00:00+01:00",  # before the series
    ):
        response = await client.patch(
            f"/schedule/{block.id}/occurrences/{not_an_occurrence}",
            headers=headers,
            json={"title": "x"},
        )
        assert_error(response, 404, "not_found")
        response = await client.delete(
            f"/schedule/{block.id}/occurrences/{not_an_occurrence}", headers=headers
        )
        assert_error(response, 404, "not_found")
    assert await _count(db_session, ScheduleException) == 0


async def test_bad_occurrence_edits_are_422_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(db_session, user, MONDAY_0900_PARIS, rrule="FREQ=WEEKLY")
    url = f"/schedule/{block.id}/occurrences/2025-03-24T09:00:00+01:00"
    for body in (
        {},
        {"title": None},
        {"title": "  "},
        {"end": "2025-03-24T08:00:00+01:00"},
        {"start": "2025-03-24T09:00:00"},
        {"start": "2025-03-24T09:00:00+01:00", "end": "2025-03-25T09:00:01+01:00"},
        {"start": "2025-03-24T09:00:00+01:00", "end": "2025-03-24T09:00:00+01:00"},
        {"title": "x", "cancelled": True},
    ):
        assert_error(await client.patch(url, headers=headers, json=body), 422, "validation_error")
    naive = await client.patch(
        f"/schedule/{block.id}/occurrences/2025-03-24T09:00:00",
        headers=headers,
        json={"title": "x"},
    )
    error = assert_error(naive, 422, "validation_error")
    assert error["details"][0]["loc"] == ["path", "original_start"]
    for out_of_range in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = await client.delete(
            f"/schedule/{block.id}/occurrences/{out_of_range}", headers=headers
        )
        assert_error(response, 422, "validation_error")
    assert await _count(db_session, ScheduleException) == 0


async def test_conflicts_with_other_blocks_are_reported_not_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    weekly = await create_block(
        db_session,
        user,
        MONDAY_0900_PARIS,
        MONDAY_0900_PARIS + timedelta(hours=2),
        rrule="FREQ=WEEKLY",
        title="Lecture",
    )
    one_off = await create_block(db_session, user, utc(2025, 4, 15, 16), title="Tutoring")
    await create_block(db_session, await create_user(db_session), utc(2025, 4, 14, 8))

    # Five weeks in, after the DST change: 10:00-12:00 Paris overlaps 09:00-11:00.
    overlapping = await client.post(
        "/schedule",
        headers=headers,
        json=_block_body(start="2025-04-14T10:00:00+02:00", end="2025-04-14T12:00:00+02:00"),
    )
    assert overlapping.status_code == 201, overlapping.text
    assert overlapping.json()["conflicts"] == [
        {
            "block_id": str(weekly.id),
            "title": "Lecture",
            "start": "2025-04-14T09:00:00+02:00",
            "end": "2025-04-14T11:00:00+02:00",
        }
    ]

    touching = await client.post(
        "/schedule",
        headers=headers,
        json=_block_body(start="2025-04-14T11:00:00+02:00", end="2025-04-14T12:00:00+02:00"),
    )
    assert [c["block_id"] for c in touching.json()["conflicts"]] == [overlapping.json()["id"]]

    # A new daily series collides with the lecture every Monday and with the one-off once.
    daily = await client.post(
        "/schedule",
        headers=headers,
        json=_block_body(
            title="Reading",
            start="2025-04-01T10:30:00+02:00",
            end="2025-04-01T18:30:00+02:00",
            recurrence="FREQ=DAILY;COUNT=21",
        ),
    )
    assert daily.status_code == 201, daily.text
    conflicts = [(c["block_id"], c["start"]) for c in daily.json()["conflicts"]]
    lecture = str(weekly.id)
    assert (lecture, "2025-04-07T09:00:00+02:00") in conflicts
    assert (lecture, "2025-04-21T09:00:00+02:00") in conflicts
    assert (str(one_off.id), "2025-04-15T18:00:00+02:00") in conflicts
    assert (lecture, "2025-04-28T09:00:00+02:00") not in conflicts  # after COUNT ran out
    assert [c[1] for c in conflicts] == sorted(c[1] for c in conflicts)
    assert await _count(db_session, ScheduleBlock) == 6


async def test_conflicts_of_a_series_are_checked_over_its_first_90_days(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    within = await create_block(db_session, user, utc(2025, 3, 30, 9))
    await create_block(db_session, user, utc(2025, 4, 1, 9))  # day 91
    response = await client.post(
        "/schedule",
        headers=auth_headers(codec, user),
        json=_block_body(
            start="2025-01-01T09:00:00Z", end="2025-01-01T10:00:00Z", recurrence="FREQ=DAILY"
        ),
    )
    assert [c["block_id"] for c in response.json()["conflicts"]] == [str(within.id)]


async def test_moving_an_occurrence_reports_conflicts_at_its_new_time(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    series = await create_block(db_session, user, utc(2025, 5, 5, 9), rrule="FREQ=WEEKLY")
    busy = await create_block(db_session, user, utc(2025, 5, 13, 9))
    moved = await client.patch(
        f"/schedule/{series.id}/occurrences/2025-05-12T09:00:00Z",
        headers=headers,
        json={"start": "2025-05-13T09:30:00Z"},
    )
    assert moved.status_code == 200, moved.text
    assert [c["block_id"] for c in moved.json()["conflicts"]] == [str(busy.id)]
    # A one-off met by the moved occurrence shows up when listing that day too.
    listing = await client.get("/schedule", headers=headers, params={"date": "2025-05-13"})
    assert [item["block_id"] for item in listing.json()["items"]] == [str(busy.id), str(series.id)]
    other_day = await client.get("/schedule", headers=headers, params={"date": "2025-05-12"})
    assert other_day.json()["items"] == []


async def test_an_occurrence_moved_outside_its_series_span_is_still_listed(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    series = await create_block(db_session, user, utc(2025, 5, 5, 9), rrule="FREQ=DAILY;COUNT=3")
    one_off = await create_block(db_session, user, utc(2025, 5, 5, 12))
    later = await client.patch(
        f"/schedule/{series.id}/occurrences/2025-05-07T09:00:00Z",
        headers=headers,
        json={"start": "2025-05-20T09:00:00Z"},
    )
    assert later.status_code == 200, later.text
    earlier = await client.patch(
        f"/schedule/{one_off.id}/occurrences/2025-05-05T12:00:00Z",
        headers=headers,
        json={"start": "2025-05-01T12:00:00Z", "end": "2025-05-01T12:30:00Z"},
    )
    assert earlier.status_code == 200, earlier.text
    on_the_20th = await client.get("/schedule", headers=headers, params={"date": "2025-05-20"})
    assert [i["original_start"] for i in on_the_20th.json()["items"]] == ["2025-05-07T09:00:00Z"]
    on_the_1st = await client.get("/schedule", headers=headers, params={"date": "2025-05-01"})
    assert [(i["block_id"], i["end"]) for i in on_the_1st.json()["items"]] == [
        (str(one_off.id), "2025-05-01T12:30:00Z")
    ]
    on_the_7th = await client.get("/schedule", headers=headers, params={"date": "2025-05-07"})
    assert on_the_7th.json()["items"] == []


async def test_patching_the_series_recomputes_it_and_keeps_valid_exceptions(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(db_session, user, MONDAY_0900_PARIS, rrule="FREQ=WEEKLY")
    await create_exception(db_session, block, utc(2025, 3, 24, 8), new_title="Kept")
    await create_exception(db_session, block, utc(2025, 5, 5, 7), cancelled=True)
    busy = await create_block(db_session, user, utc(2025, 3, 17, 8, 30))

    response = await client.patch(
        f"/schedule/{block.id}",
        headers=headers,
        json={"title": "Renamed", "recurrence": "FREQ=WEEKLY;UNTIL=20250414", "kind": "class"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["title"], body["kind"], body["recurrence"]) == (
        "Renamed",
        "class",
        "FREQ=WEEKLY;UNTIL=20250414",
    )
    assert body["series_until"] == "2025-04-14T10:00:00+02:00"
    # The May exception's occurrence no longer exists; the March one does.
    assert [e["original_start"] for e in body["exceptions"]] == ["2025-03-24T09:00:00+01:00"]
    assert [c["block_id"] for c in body["conflicts"]] == [str(busy.id)]
    assert await _count(db_session, ScheduleException) == 1

    stored = await _reload(db_session, block)
    assert stored.series_until == utc(2025, 4, 14, 8)
    assert stored.title == "Renamed"


async def test_patching_start_alone_keeps_the_duration_and_null_recurrence_ends_it(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(
        db_session,
        user,
        MONDAY_0900_PARIS,
        MONDAY_0900_PARIS + timedelta(minutes=45),
        rrule="FREQ=WEEKLY",
    )
    await create_exception(db_session, block, utc(2025, 3, 24, 8), new_title="Dropped")
    response = await client.patch(
        f"/schedule/{block.id}",
        headers=headers,
        json={"start": "2025-03-18T14:00:00+01:00", "recurrence": None},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["start"], body["end"]) == (
        "2025-03-18T14:00:00+01:00",
        "2025-03-18T14:45:00+01:00",
    )
    assert (body["recurrence"], body["recurring"], body["exceptions"]) == (None, False, [])
    assert body["series_until"] == body["end"]
    assert await _count(db_session, ScheduleException) == 0


async def test_changing_the_zone_of_a_series_changes_where_it_repeats(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="UTC")
    headers = auth_headers(codec, user)
    block = await create_block(
        db_session, user, utc(2025, 3, 17, 8), rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC"
    )
    response = await client.patch(
        f"/schedule/{block.id}", headers=headers, json={"timezone": "Europe/Paris"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["start"] == "2025-03-17T09:00:00+01:00"
    listing = await client.get(
        "/schedule", headers=headers, params={"from": "2025-03-17", "to": "2025-04-06"}
    )
    assert [item["start"] for item in listing.json()["items"]] == [
        "2025-03-17T08:00:00Z",
        "2025-03-24T08:00:00Z",
        "2025-03-31T07:00:00Z",
    ]


INVALID_BLOCKS: list[dict[str, Any]] = [
    _block_body(end="2025-06-10T09:00:00+02:00"),
    _block_body(end="2025-06-10T08:00:00+02:00"),
    _block_body(start="2025-06-10T09:00:00", end="2025-06-10T10:00:00"),
    _block_body(end="2025-06-11T09:00:01+02:00"),
    _block_body(kind="nap"),
    _block_body(timezone="Mars/Olympus"),
    _block_body(title=""),
    _block_body(title="x" * 201),
    _block_body(title="nul\x00"),
    _block_body(title="lone \ud800 surrogate"),
    _block_body(recurrence="FREQ=HOURLY"),
    _block_body(recurrence="FREQ=MINUTELY"),
    _block_body(recurrence="FREQ=SECONDLY"),
    _block_body(recurrence="FREQ=WEEKLY;COUNT=3;UNTIL=20250701"),
    _block_body(recurrence="DTSTART:20250610T090000\nRRULE:FREQ=WEEKLY"),
    _block_body(recurrence="FREQ=WEEKLY;DTSTART=20250610T090000"),
    _block_body(recurrence="FREQ=SOMETIMES"),
    _block_body(recurrence="FREQ=WEEKLY;BYDAY=XX"),
    _block_body(recurrence="not a rule"),
    _block_body(recurrence="FREQ=WEEKLY;BYDAY=MO"),  # 10 June 2025 is a Tuesday
    _block_body(recurrence="FREQ=WEEKLY;UNTIL=20250601"),
    _block_body(start="1900-01-01T09:00:00Z", end="1900-01-01T10:00:00Z"),
    {k: v for k, v in _block_body().items() if k != "kind"},
    _block_body(extra="field"),
]


@pytest.mark.parametrize("body", INVALID_BLOCKS)
async def test_invalid_blocks_are_422_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, body: dict[str, Any]
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    # Serialised here: json.dumps escapes lone surrogates, which httpx's encoder refuses.
    headers = {**auth_headers(codec, user), "Content-Type": "application/json"}
    response = await client.post("/schedule", headers=headers, content=json.dumps(body))
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["loc"][0] == "body"
    assert await _count(db_session, ScheduleBlock) == 0


async def test_invalid_patches_are_422_and_change_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Europe/Paris")
    headers = auth_headers(codec, user)
    block = await create_block(
        db_session, user, MONDAY_0900_PARIS, rrule="FREQ=WEEKLY;BYDAY=MO", title="Same"
    )
    for body in (
        {"title": None},
        {"start": None},
        {"kind": "nap"},
        {"timezone": "Nowhere/Special"},
        {"end": "2025-03-17T08:00:00+01:00"},
        {"end": "2025-03-18T10:00:00+01:00"},
        {"recurrence": "FREQ=HOURLY"},
        {"recurrence": "FREQ=WEEKLY;BYDAY=FR"},
        {"start": "2025-03-18T09:00:00+01:00"},  # a Tuesday does not match BYDAY=MO
        {"start": "2025-03-17T23:30:00+01:00", "timezone": "Asia/Tokyo"},  # Tuesday in Tokyo
        {"start": "2025-03-17T09:00:00"},
    ):
        response = await client.patch(f"/schedule/{block.id}", headers=headers, json=body)
        assert_error(response, 422, "validation_error")
    stored = await _reload(db_session, block)
    assert (stored.title, stored.start_at, stored.timezone, stored.rrule) == (
        "Same",
        utc(2025, 3, 17, 8),
        "Europe/Paris",
        "FREQ=WEEKLY;BYDAY=MO",
    )


async def test_courses_and_goals_must_be_the_callers(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, stranger = await create_user(db_session), await create_user(db_session)
    headers = auth_headers(codec, user)
    own_course = await create_course(db_session, user.id)
    enrolled_course = await create_course(db_session, stranger.id, visibility="public")
    await enroll(db_session, user.id, enrolled_course.id)
    foreign_course = await create_course(db_session, stranger.id, visibility="public")
    own_goal, foreign_goal = (
        await create_goal(db_session, user.id),
        await create_goal(db_session, stranger.id),
    )

    for course, goal in ((own_course, own_goal), (enrolled_course, None)):
        response = await client.post(
            "/schedule",
            headers=headers,
            json=_block_body(course_id=str(course.id), goal_id=goal and str(goal.id)),
        )
        assert response.status_code == 201, response.text
        assert response.json()["course_id"] == str(course.id)

    for links in (
        {"course_id": str(foreign_course.id)},
        {"goal_id": str(foreign_goal.id)},
        {"course_id": "00000000-0000-0000-0000-000000000000"},
    ):
        response = await client.post("/schedule", headers=headers, json=_block_body(**links))
        assert_error(response, 404, "not_found")
    assert await _count(db_session, ScheduleBlock) == 2

    block = await create_block(db_session, user, utc(2025, 6, 1, 9), course_id=own_course.id)
    response = await client.patch(
        f"/schedule/{block.id}", headers=headers, json={"goal_id": str(foreign_goal.id)}
    )
    assert_error(response, 404, "not_found")
    cleared = await client.patch(f"/schedule/{block.id}", headers=headers, json={"course_id": None})
    assert cleared.json()["course_id"] is None


async def test_another_users_block_is_404_and_unchanged(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, intruder = await create_user(db_session), await create_user(db_session)
    block = await create_block(
        db_session, owner, utc(2025, 3, 17, 9), rrule="FREQ=WEEKLY", title="Private"
    )
    headers = auth_headers(codec, intruder)
    occurrence = f"/schedule/{block.id}/occurrences/2025-03-24T09:00:00Z"
    responses = [
        await client.get(f"/schedule/blocks/{block.id}", headers=headers),
        await client.patch(f"/schedule/{block.id}", headers=headers, json={"title": "Pwned"}),
        await client.delete(f"/schedule/{block.id}", headers=headers),
        await client.patch(occurrence, headers=headers, json={"title": "Pwned"}),
        await client.delete(occurrence, headers=headers),
    ]
    for response in responses:
        assert_error(response, 404, "not_found")
    stored = await _reload(db_session, block)
    assert stored.title == "Private"
    assert await _count(db_session, ScheduleException) == 0
    listing = await client.get("/schedule", headers=headers, params={"date": "2025-03-24"})
    assert listing.json()["items"] == []


async def test_deleting_a_block_removes_its_exceptions_and_reminders(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    block = await create_block(db_session, user, utc(2025, 3, 17, 9), rrule="FREQ=DAILY")
    kept = await create_block(db_session, user, utc(2025, 3, 17, 12))
    await create_exception(db_session, block, utc(2025, 3, 18, 9), cancelled=True)
    await create_reminder(db_session, user, utc(2025, 3, 17, 8), schedule_block_id=block.id)
    response = await client.delete(f"/schedule/{block.id}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await _count(db_session, ScheduleException) == 0
    assert await _count(db_session, Reminder) == 0
    assert_error(
        await client.get(f"/schedule/blocks/{block.id}", headers=headers), 404, "not_found"
    )
    assert_error(await client.delete(f"/schedule/{block.id}", headers=headers), 404, "not_found")
    assert (await client.get(f"/schedule/blocks/{kept.id}", headers=headers)).status_code == 200


async def test_every_schedule_route_requires_a_token(client: httpx.AsyncClient) -> None:
    block_id = "00000000-0000-0000-0000-000000000000"
    for method, url in (
        ("GET", "/schedule?date=2025-01-01"),
        ("POST", "/schedule"),
        ("GET", f"/schedule/blocks/{block_id}"),
        ("PATCH", f"/schedule/{block_id}"),
        ("DELETE", f"/schedule/{block_id}"),
        ("PATCH", f"/schedule/{block_id}/occurrences/2025-01-01T09:00:00Z"),
        ("DELETE", f"/schedule/{block_id}/occurrences/2025-01-01T09:00:00Z"),
    ):
        assert_error(await client.request(method, url, json={}), 401, "unauthorized")
