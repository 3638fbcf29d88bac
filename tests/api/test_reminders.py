import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.reminders.models import Reminder
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.goals import create_goal
from tests.fixtures.factories.schedule import create_block, create_reminder
from tests.fixtures.factories.users import auth_headers, create_user

REMIND_AT = datetime(2025, 6, 10, 7, 0, tzinfo=UTC)


async def _count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Reminder)) or 0)


async def test_a_reminder_about_a_block_is_created_pending(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    block = await create_block(db_session, user, REMIND_AT + timedelta(hours=1))
    response = await client.post(
        "/reminders",
        headers=auth_headers(codec, user),
        json={
            "remind_at": "2025-06-10T09:00:00+02:00",
            "message": "  Pack the calculator  ",
            "schedule_block_id": str(block.id),
            "channel": "in_app",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["remind_at"] == "2025-06-10T07:00:00Z"
    assert body["message"] == "Pack the calculator"
    assert (body["schedule_block_id"], body["goal_id"]) == (str(block.id), None)
    assert (body["channel"], body["status"], body["sent_at"]) == ("in_app", "pending", None)
    stored = await db_session.get(Reminder, body["id"])
    assert stored is not None
    assert (stored.user_id, stored.remind_at) == (user.id, REMIND_AT)

    fetched = await client.get(f"/reminders/{body['id']}", headers=auth_headers(codec, user))
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_a_reminder_about_a_goal_or_nothing_defaults_to_in_app(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    goal = await create_goal(db_session, user.id)
    headers = auth_headers(codec, user)
    about_goal = await client.post(
        "/reminders",
        headers=headers,
        json={"remind_at": REMIND_AT.isoformat(), "message": "Review", "goal_id": str(goal.id)},
    )
    assert about_goal.status_code == 201, about_goal.text
    assert (about_goal.json()["goal_id"], about_goal.json()["channel"]) == (str(goal.id), "in_app")
    standalone = await client.post(
        "/reminders", headers=headers, json={"remind_at": REMIND_AT.isoformat(), "message": "Hi"}
    )
    assert standalone.status_code == 201
    assert await _count(db_session) == 2


INVALID_REMINDERS: list[dict[str, Any]] = [
    {"message": "no time"},
    {"remind_at": "2025-06-10T09:00:00", "message": "naive"},
    {"remind_at": "tomorrow", "message": "x"},
    {"remind_at": REMIND_AT.isoformat(), "message": ""},
    {"remind_at": REMIND_AT.isoformat(), "message": "   "},
    {"remind_at": REMIND_AT.isoformat(), "message": "x" * 1001},
    {"remind_at": REMIND_AT.isoformat(), "message": "nul\x00"},
    {"remind_at": REMIND_AT.isoformat(), "message": "lone \ud800 surrogate"},
    {"remind_at": REMIND_AT.isoformat(), "message": "x", "channel": "email"},
    {"remind_at": REMIND_AT.isoformat(), "message": "x", "status": "sent"},
    {"remind_at": "9999-12-31T23:59:59+14:00", "message": "x"},
    {"remind_at": REMIND_AT.isoformat(), "message": "x", "goal_id": "not-a-uuid"},
]


@pytest.mark.parametrize("body", INVALID_REMINDERS)
async def test_invalid_reminders_are_422_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, body: dict[str, Any]
) -> None:
    user = await create_user(db_session)
    # Serialised here: json.dumps escapes lone surrogates, which httpx's encoder refuses.
    headers = {**auth_headers(codec, user), "Content-Type": "application/json"}
    response = await client.post("/reminders", headers=headers, content=json.dumps(body))
    assert_error(response, 422, "validation_error")
    assert await _count(db_session) == 0


async def test_a_block_and_a_goal_together_are_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    block = await create_block(db_session, user, REMIND_AT)
    goal = await create_goal(db_session, user.id)
    response = await client.post(
        "/reminders",
        headers=auth_headers(codec, user),
        json={
            "remind_at": REMIND_AT.isoformat(),
            "message": "x",
            "schedule_block_id": str(block.id),
            "goal_id": str(goal.id),
        },
    )
    assert_error(response, 422, "validation_error")
    assert await _count(db_session) == 0


async def test_another_users_block_or_goal_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, stranger = await create_user(db_session), await create_user(db_session)
    block = await create_block(db_session, stranger, REMIND_AT)
    goal = await create_goal(db_session, stranger.id)
    for subject in (
        {"schedule_block_id": str(block.id)},
        {"goal_id": str(goal.id)},
        {"goal_id": "00000000-0000-0000-0000-000000000000"},
    ):
        response = await client.post(
            "/reminders",
            headers=auth_headers(codec, user),
            json={"remind_at": REMIND_AT.isoformat(), "message": "x", **subject},
        )
        assert_error(response, 404, "not_found")
    assert await _count(db_session) == 0


async def test_another_users_reminder_is_404_and_survives(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, intruder = await create_user(db_session), await create_user(db_session)
    reminder = await create_reminder(db_session, owner, REMIND_AT)
    headers = auth_headers(codec, intruder)
    assert_error(await client.get(f"/reminders/{reminder.id}", headers=headers), 404, "not_found")
    assert_error(
        await client.delete(f"/reminders/{reminder.id}", headers=headers), 404, "not_found"
    )
    assert_error(
        await client.patch(f"/reminders/{reminder.id}", headers=headers, json={"message": "x"}),
        404,
        "not_found",
    )
    listing = await client.get("/reminders", headers=headers)
    assert listing.json() == {"items": [], "next_cursor": None}
    assert await db_session.get(Reminder, reminder.id, populate_existing=True) is not None


async def test_deleting_a_reminder_cancels_it_and_keeps_it(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    reminder = await create_reminder(db_session, user, REMIND_AT)
    kept = await create_reminder(db_session, user, REMIND_AT)
    sent = await create_reminder(db_session, user, REMIND_AT, status="sent", sent_at=REMIND_AT)
    response = await client.delete(f"/reminders/{reminder.id}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    cancelled = await client.get(f"/reminders/{reminder.id}", headers=headers)
    assert cancelled.json()["status"] == "cancelled"
    # Again: nothing changes; a cancelled or sent reminder cannot be moved; a sent one stays.
    assert (await client.delete(f"/reminders/{reminder.id}", headers=headers)).status_code == 204
    assert_error(
        await client.patch(f"/reminders/{reminder.id}", headers=headers, json={"message": "x"}),
        409,
        "reminder_not_pending",
    )
    assert_error(
        await client.delete(f"/reminders/{sent.id}", headers=headers), 409, "reminder_not_pending"
    )
    assert (await client.get(f"/reminders/{kept.id}", headers=headers)).json()["status"] == (
        "pending"
    )
    assert await _count(db_session) == 3


async def test_patching_a_pending_reminder_moves_it_and_changes_its_message(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    reminder = await create_reminder(db_session, user, REMIND_AT)
    moved = await client.patch(
        f"/reminders/{reminder.id}",
        headers=headers,
        json={"remind_at": "2025-06-11T09:30:00+02:00", "message": " Bring notes "},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["remind_at"], moved.json()["message"]) == (
        "2025-06-11T07:30:00Z",
        "Bring notes",
    )
    assert (moved.json()["status"]) == "pending"
    only_message = await client.patch(
        f"/reminders/{reminder.id}", headers=headers, json={"message": "Bring pens"}
    )
    assert only_message.json()["remind_at"] == "2025-06-11T07:30:00Z"
    for bad in ({"remind_at": "2025-06-11T09:30:00"}, {"message": ""}, {"surprise": 1}):
        response = await client.patch(f"/reminders/{reminder.id}", headers=headers, json=bad)
        assert_error(response, 422, "validation_error")


async def test_reminders_are_paginated_newest_first_and_filter_by_status(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    created = [
        await create_reminder(db_session, user, REMIND_AT + timedelta(days=n)) for n in range(5)
    ]
    sent = await create_reminder(db_session, user, REMIND_AT, status="sent", sent_at=REMIND_AT)
    await create_reminder(db_session, await create_user(db_session), REMIND_AT)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/reminders", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(r.id) for r in reversed([*created, sent])]

    pending = await client.get("/reminders", headers=headers, params={"status": "pending"})
    assert [item["id"] for item in pending.json()["items"]] == [
        str(r.id) for r in reversed(created)
    ]
    only_sent = await client.get("/reminders", headers=headers, params={"status": "sent"})
    assert [item["id"] for item in only_sent.json()["items"]] == [str(sent.id)]
    assert only_sent.json()["items"][0]["sent_at"] == "2025-06-10T07:00:00Z"


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "garbage"}]
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    params: dict[str, str],
) -> None:
    user = await create_user(db_session)
    response = await client.get("/reminders", headers=auth_headers(codec, user), params=params)
    assert response.status_code == 422
    assert response.json()["code"] in {"validation_error", "invalid_cursor"}


async def test_every_reminder_route_requires_a_token(client: httpx.AsyncClient) -> None:
    reminder_id = "00000000-0000-0000-0000-000000000000"
    for method, url in (
        ("GET", "/reminders"),
        ("POST", "/reminders"),
        ("GET", f"/reminders/{reminder_id}"),
        ("PATCH", f"/reminders/{reminder_id}"),
        ("DELETE", f"/reminders/{reminder_id}"),
    ):
        assert_error(await client.request(method, url, json={}), 401, "unauthorized")
