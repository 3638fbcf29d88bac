import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user


async def test_a_user_reads_their_own_profile(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get(f"/users/{user.id}", headers=auth_headers(codec, user))
    assert response.status_code == 200
    assert response.json()["email"] == user.email


async def test_another_users_profile_is_404(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session), await create_user(db_session)
    response = await client.get(f"/users/{alice.id}", headers=auth_headers(codec, bob))
    assert_error(response, 404, "not_found")


async def test_patch_updates_profile_and_preferences(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.patch(
        f"/users/{user.id}",
        headers=auth_headers(codec, user),
        json={
            "name": "Renamed",
            "timezone": "Europe/Paris",
            "study_preferences": {
                "preferred_session_minutes": 50,
                "available_hours": [{"weekday": 0, "start": "18:00", "end": "21:30"}],
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["timezone"] == "Europe/Paris"
    assert body["study_preferences"]["preferred_session_minutes"] == 50
    assert body["study_preferences"]["available_hours"] == [
        {"weekday": 0, "start": "18:00:00", "end": "21:30:00"}
    ]
    stored = await db_session.get(User, user.id, populate_existing=True)
    assert stored is not None
    assert stored.timezone == "Europe/Paris"


async def test_patch_with_null_name_clears_it_and_omitted_fields_stay(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, timezone="Asia/Tokyo")
    response = await client.patch(
        f"/users/{user.id}", headers=auth_headers(codec, user), json={"name": None}
    )
    assert response.status_code == 200
    assert response.json()["name"] is None
    assert response.json()["timezone"] == "Asia/Tokyo"


async def test_patching_another_user_is_404_and_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    alice, bob = await create_user(db_session, name="Alice"), await create_user(db_session)
    response = await client.patch(
        f"/users/{alice.id}", headers=auth_headers(codec, bob), json={"name": "Pwned"}
    )
    assert_error(response, 404, "not_found")
    stored = await db_session.get(User, alice.id, populate_existing=True)
    assert stored is not None
    assert stored.name == "Alice"


async def test_bad_profile_fields_are_422_and_nothing_is_written(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session, name="Kept")
    headers = auth_headers(codec, user)
    bad_bodies = [
        {"timezone": "Mars/Olympus"},
        {"timezone": None},
        {"name": "x", "unknown_field": 1},
        {"study_preferences": {"preferred_session_minutes": 5}},
        {
            "study_preferences": {
                "available_hours": [{"weekday": 7, "start": "09:00", "end": "10:00"}]
            }
        },
        {
            "study_preferences": {
                "available_hours": [{"weekday": 1, "start": "10:00", "end": "09:00"}]
            }
        },
    ]
    for body in bad_bodies:
        response = await client.patch(f"/users/{user.id}", headers=headers, json=body)
        assert_error(response, 422, "validation_error")
    stored = await db_session.get(User, user.id, populate_existing=True)
    assert stored is not None
    assert (stored.name, stored.timezone) == ("Kept", "UTC")


async def test_a_malformed_user_id_is_422(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.get("/users/not-a-uuid", headers=auth_headers(codec, user))
    body = assert_error(response, 422, "validation_error")
    assert body["details"][0]["loc"] == ["path", "user_id"]


async def test_system_zone_files_are_not_time_zones(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    for name in ("localtime", "posixrules"):
        response = await client.patch(
            f"/users/{user.id}", headers=auth_headers(codec, user), json={"timezone": name}
        )
        assert_error(response, 422, "validation_error")


async def test_agent_job_times_are_set_validated_and_cleared(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    fresh = await client.get(f"/users/{user.id}", headers=headers)
    assert (fresh.json()["morning_agenda_at"], fresh.json()["weekly_review_at"]) == (None, None)
    both = {"morning_agenda_at": "07:30", "weekly_review_at": {"weekday": 4, "time": "17:00"}}
    response = await client.patch(f"/users/{user.id}", headers=headers, json=both)
    assert response.status_code == 200, response.text
    assert response.json()["morning_agenda_at"] == "07:30:00"
    assert response.json()["weekly_review_at"] == {"weekday": 4, "time": "17:00:00"}
    for bad in (
        {"morning_agenda_at": "25:00"},
        {"weekly_review_at": {"weekday": 7, "time": "17:00"}},
        {"weekly_review_at": {"weekday": 1}},
        {"weekly_review_at": {"weekday": 1, "time": "17:00", "extra": True}},
        {"morning_agenda_at": "07:30:00+02:00"},
    ):
        rejected = await client.patch(f"/users/{user.id}", headers=headers, json=bad)
        assert rejected.status_code == 422, bad
    # Left out: unchanged; null: off.
    kept = await client.patch(f"/users/{user.id}", headers=headers, json={"name": "Ada"})
    assert kept.json()["weekly_review_at"] == {"weekday": 4, "time": "17:00:00"}
    off = await client.patch(f"/users/{user.id}", headers=headers, json={"weekly_review_at": None})
    assert (off.json()["morning_agenda_at"], off.json()["weekly_review_at"]) == ("07:30:00", None)
