import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.auth.models import RefreshToken
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import DEFAULT_PASSWORD, auth_headers, create_user


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_register_creates_a_user_with_a_normalised_email(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post(
        "/auth/register",
        json={"email": "  Ada@Example.COM", "password": "long enough pw", "name": "Ada"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert "password" not in json.dumps(body)
    uuid.UUID(body["id"])


async def test_register_twice_case_insensitively_is_409(client: httpx.AsyncClient) -> None:
    first = await client.post(
        "/auth/register", json={"email": "bo@example.com", "password": "long enough pw"}
    )
    assert first.status_code == 201
    second = await client.post(
        "/auth/register", json={"email": "BO@example.com", "password": "another long pw"}
    )
    assert_error(second, 409, "email_taken")


async def test_register_with_bad_fields_lists_each_in_details(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", json={"email": "nope", "password": "short"})
    body = assert_error(response, 422, "validation_error")
    locations = {tuple(item["loc"]) for item in body["details"]}
    assert locations == {("body", "email"), ("body", "password")}


async def test_malformed_json_is_422_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register",
        content=b'{"email": "a@example.com",',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 422, "invalid_json")


async def test_login_returns_a_bearer_pair_and_me_works(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    user = await create_user(db_session, email="cy@example.com")
    response = await login(client, "CY@example.com", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="dee@example.com")
    wrong = assert_error(
        await login(client, "dee@example.com", "not the password"), 401, "invalid_credentials"
    )
    unknown = assert_error(
        await login(client, "nobody@example.com", DEFAULT_PASSWORD), 401, "invalid_credentials"
    )
    assert wrong == unknown


async def test_me_without_a_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/auth/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _forge(payload: dict[str, object], secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def _claims(user_id: uuid.UUID, kind: str = "access", **changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(user_id),
        "jti": str(uuid.uuid4()),
        "type": kind,
        "iss": "studypilot",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(changes)
    return claims


def _unsigned(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda uid, secret: _forge(
                _claims(
                    uid,
                    iat=datetime.now(UTC) - timedelta(hours=1),
                    exp=datetime.now(UTC) - timedelta(minutes=1),
                ),
                secret,
            ),
            id="expired",
        ),
        pytest.param(
            lambda uid, secret: _forge(_claims(uid), "another-secret-" * 4), id="wrong-signature"
        ),
        pytest.param(lambda uid, secret: _forge(_claims(uid), secret)[:-3] + "abc", id="tampered"),
        pytest.param(lambda uid, secret: _unsigned(_claims(uid)), id="alg-none"),
        pytest.param(
            lambda uid, secret: _forge(_claims(uid), secret, "HS512"), id="other-algorithm"
        ),
        pytest.param(
            lambda uid, secret: _forge(_claims(uid, "refresh"), secret), id="refresh-as-access"
        ),
        pytest.param(
            lambda uid, secret: _forge(
                {k: v for k, v in _claims(uid).items() if k != "jti"}, secret
            ),
            id="missing-jti",
        ),
        pytest.param(
            lambda uid, secret: _forge(_claims(uid, sub="not-a-uuid"), secret), id="garbage-subject"
        ),
        pytest.param(lambda uid, secret: _forge(_claims(uuid.uuid4()), secret), id="unknown-user"),
    ],
)
async def test_bad_access_tokens_are_401(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    make_token: Callable[[uuid.UUID, str], str],
) -> None:
    user = await create_user(db_session)
    token = make_token(user.id, settings.jwt_secret.get_secret_value())
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "invalid_token")


async def test_an_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    access, _ = codec.issue(user.id, "access")
    response = await client.post("/auth/refresh", json={"refresh_token": access})
    assert_error(response, 401, "invalid_token")


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="eve@example.com")
    first = (await login(client, "eve@example.com", DEFAULT_PASSWORD)).json()

    rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    # The first token comes back after the reuse grace window: a thief (or a replay) holds it.
    await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.used_at.is_not(None))
        .values(used_at=RefreshToken.used_at - timedelta(seconds=60))
    )
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reused, 401, "token_reused")
    # ...and so the legitimate, newer token of that family is dead too.
    after = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_error(after, 401, "invalid_token")

    rows = (await db_session.scalars(select(RefreshToken))).all()
    assert len(rows) == 2
    assert all(row.revoked_at is not None for row in rows)
    assert all(len(row.token_hash) == 64 for row in rows)
    assert {row.token_hash for row in rows}.isdisjoint(
        {first["refresh_token"], second["refresh_token"]}
    )


async def test_another_login_is_a_separate_family(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="fay@example.com")
    laptop = (await login(client, "fay@example.com", DEFAULT_PASSWORD)).json()
    phone = (await login(client, "fay@example.com", DEFAULT_PASSWORD)).json()
    await client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    still = await client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert still.status_code == 200


async def test_logout_revokes_the_refresh_family(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="gil@example.com")
    pair = (await login(client, "gil@example.com", DEFAULT_PASSWORD)).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    response = await client.post(
        "/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=headers
    )
    assert response.status_code == 204
    refreshed = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_error(refreshed, 401, "invalid_token")


async def test_logout_with_someone_elses_refresh_token_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    await create_user(db_session, email="hal@example.com")
    intruder = await create_user(db_session)
    victim = (await login(client, "hal@example.com", DEFAULT_PASSWORD)).json()
    response = await client.post(
        "/auth/logout",
        json={"refresh_token": victim["refresh_token"]},
        headers=auth_headers(codec, intruder),
    )
    assert_error(response, 401, "invalid_token")
    still = await client.post("/auth/refresh", json={"refresh_token": victim["refresh_token"]})
    assert still.status_code == 200


async def test_login_is_throttled_per_email(
    client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    await create_user(db_session, email="ivy@example.com")
    for _ in range(5):
        assert (await login(client, "ivy@example.com", "wrong password")).status_code == 401
    blocked = await login(client, "IVY@example.com", DEFAULT_PASSWORD)
    body = assert_error(blocked, 429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) >= 1
    assert body["details"]["retry_after_seconds"] >= 1
    # Another account from the same client is not blocked by ivy's counter.
    other = await login(client, "someone@example.com", DEFAULT_PASSWORD)
    assert other.status_code == 401


async def test_login_is_throttled_per_client_address(client: httpx.AsyncClient) -> None:
    statuses = [
        (await login(client, f"spray{n}@example.com", "whatever pw")).status_code for n in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/auth/me")
    assert len(generated.headers["X-Request-ID"]) >= 32
    supplied = uuid.uuid4().hex
    echoed = await client.get("/health", headers={"X-Request-ID": supplied})
    assert echoed.headers["X-Request-ID"] == supplied


async def test_a_token_outliving_its_user_reads_nothing_anywhere(
    client: httpx.AsyncClient, codec: TokenCodec, db_session: AsyncSession
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    await db_session.delete(user)
    await db_session.commit()
    # Routes that load the user refuse the token ...
    assert_error(await client.get("/users/me", headers=headers), 401, "invalid_token")
    assert_error(await client.get("/goals", headers=headers), 401, "invalid_token")
    # ... the search lists trust its signature alone, and the user's rows went with the user.
    for path in ("/resources?q=algebra", "/notes"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next_cursor": None}
