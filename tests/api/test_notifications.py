import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import Event
from core.security import TokenCodec
from domain.notifications.models import Notification
from domain.notifications.service import NotificationService
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user


async def _notify(session: AsyncSession, user: User, body: str) -> Notification:
    notification = Notification(user_id=user.id, kind="reminder", title="Reminder", body=body)
    session.add(notification)
    await session.commit()
    return notification


async def test_notifications_are_paginated_newest_first_and_filter_unread(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    headers = auth_headers(codec, user)
    made = [await _notify(db_session, user, f"n{n}") for n in range(5)]
    await _notify(db_session, other, "not yours")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/notifications", headers=headers, params=params)).json()
        seen.extend(item["body"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["n4", "n3", "n2", "n1", "n0"]

    read = await client.post(f"/notifications/{made[1].id}/read", headers=headers)
    assert read.status_code == 200, read.text
    first_read_at = read.json()["read_at"]
    assert first_read_at is not None
    again = await client.post(f"/notifications/{made[1].id}/read", headers=headers)
    assert again.json()["read_at"] == first_read_at

    unread = await client.get("/notifications", headers=headers, params={"unread": "true"})
    assert [item["body"] for item in unread.json()["items"]] == ["n4", "n3", "n2", "n0"]

    everything = await client.post("/notifications/read-all", headers=headers)
    assert everything.json() == {"marked_read": 4}
    assert (await client.post("/notifications/read-all", headers=headers)).json() == {
        "marked_read": 0
    }
    unread = await client.get("/notifications", headers=headers, params={"unread": "true"})
    assert unread.json() == {"items": [], "next_cursor": None}
    # The other user's stays unread.
    theirs = await client.get(
        "/notifications", headers=auth_headers(codec, other), params={"unread": "true"}
    )
    assert [item["body"] for item in theirs.json()["items"]] == ["not yours"]


async def test_another_users_notification_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, intruder = await create_user(db_session), await create_user(db_session)
    notification = await _notify(db_session, owner, "mine")
    response = await client.post(
        f"/notifications/{notification.id}/read", headers=auth_headers(codec, intruder)
    )
    assert_error(response, 404, "not_found")
    await db_session.refresh(notification)
    assert notification.read_at is None


@pytest.mark.parametrize(
    "params", [{"unread": "maybe"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "garbage"}]
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, params: dict[str, str]
) -> None:
    user = await create_user(db_session)
    response = await client.get("/notifications", headers=auth_headers(codec, user), params=params)
    assert response.status_code == 422
    assert response.json()["code"] in {"validation_error", "invalid_cursor"}


async def test_every_notification_route_requires_a_token(client: httpx.AsyncClient) -> None:
    some_id = "00000000-0000-0000-0000-000000000000"
    for method, url in (
        ("GET", "/notifications"),
        ("POST", "/notifications/read-all"),
        ("POST", f"/notifications/{some_id}/read"),
    ):
        assert_error(await client.request(method, url), 401, "unauthorized")


async def test_a_new_notification_queues_its_event_in_the_same_unit_of_work(
    db_session: AsyncSession,
) -> None:
    user = await create_user(db_session)
    written = await NotificationService(db_session).notify(
        user.id, "reminder", "Reminder", "Stretch", data={"reminder_id": "x"}
    )
    [event] = db_session.info["queued_events"]
    assert event == Event(
        user_id=user.id,
        topic="notifications",
        type="notification",
        data=written.model_dump(mode="json"),
    )
    assert event.data["body"] == "Stretch"
