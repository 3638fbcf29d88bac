"""POST /ai/voice-session, LiveKit's webhook and GET /ai/voice-sessions, with no LiveKit server:
tokens are read back with livekit-api's own verifier, webhooks are signed as LiveKit signs them."""

import json
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from livekit.api import TokenVerifier
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.conversations.models import Conversation
from domain.voice.models import VoiceSession, VoiceTranscriptLine, VoiceWebhookEvent
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.content import create_note
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted
from tests.fixtures.voice import (
    LIVEKIT_KEY,
    LIVEKIT_SECRET,
    LIVEKIT_URL,
    sign_webhook,
    webhook_body,
    webhook_headers,
)

WEBHOOK = "/ai/voice-session/webhook"


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _start(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/ai/voice-session", headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_token_is_for_one_room_one_identity_with_the_agent_dispatched(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    before = time.time()
    created = await _start(voice_client, auth_headers(codec, user))

    assert created["url"] == LIVEKIT_URL
    claims = TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(created["token"])
    assert claims.identity == str(user.id)
    assert claims.video is not None
    video = claims.video
    assert video.room_join is True
    assert video.room == created["room"]
    assert video.can_publish_sources == ["microphone"]
    assert video.can_publish_data is True
    # No power over rooms: not create, list, record or administer, not hidden, not an agent.
    for grant in ("room_create", "room_list", "room_record", "room_admin", "hidden", "agent"):
        assert not getattr(video, grant), grant
    raw = jwt.decode(created["token"], LIVEKIT_SECRET, algorithms=["HS256"], issuer=LIVEKIT_KEY)
    ttl = voice_app.state.settings.voice_token_ttl_seconds
    assert before + ttl - 2 <= raw["exp"] <= time.time() + ttl + 1
    expires_at = datetime.fromisoformat(created["expires_at"]).timestamp()
    assert abs(expires_at - raw["exp"]) <= 2

    assert claims.room_config is not None
    assert claims.room_config.name == created["room"]
    [dispatch] = claims.room_config.agents
    assert dispatch.agent_name == voice_app.state.settings.voice_agent_name

    metadata = json.loads(dispatch.metadata)
    assert metadata == {
        "voice_session_id": created["voice_session_id"],
        "conversation_id": created["conversation_id"],
        "user_id": str(user.id),
    }
    # The conversation was opened for the student, so voice and text share one thread.
    conversation = await db_session.get(Conversation, uuid.UUID(created["conversation_id"]))
    assert conversation is not None
    assert conversation.user_id == user.id
    assert conversation.turn_count == 0


async def test_an_existing_conversation_is_reused_and_shows_its_voice_sessions(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted("Hello there."))
    headers = auth_headers(codec, user)
    chat = await voice_client.post("/ai/chat", headers=headers, json={"message": "Hi"})
    conversation_id = chat.json()["conversation_id"]

    created = await _start(voice_client, headers, conversation_id=conversation_id)
    assert created["conversation_id"] == conversation_id
    detail = await voice_client.get(f"/ai/conversations/{conversation_id}", headers=headers)
    assert detail.status_code == 200
    [voice_session] = detail.json()["voice_sessions"]
    assert voice_session["room"] == created["room"]
    assert voice_session["status"] == "created"
    assert voice_session["transcript"] == []


async def test_another_users_conversation_or_note_is_404_and_nothing_is_written(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner = await create_user(db_session)
    intruder = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    conversation = Conversation(user_id=owner.id, title="Mine", turn_count=1)
    db_session.add(conversation)
    await db_session.commit()
    note = await create_note(db_session, owner.id)
    headers = auth_headers(codec, intruder)

    for body in ({"conversation_id": str(conversation.id)}, {"note_ids": [str(note.id)]}):
        response = await voice_client.post("/ai/voice-session", headers=headers, json=body)
        assert_error(response, 404, "not_found")
    assert await _count(db_session, VoiceSession) == 0
    assert await _count(db_session, Conversation) == 1


async def test_without_livekit_settings_it_is_503_naming_them(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await client.post("/ai/voice-session", headers=auth_headers(codec, user), json={})
    body = assert_error(response, 503, "voice_not_configured")
    assert body["details"]["settings"] == ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]
    assert await _count(db_session, Conversation) == 0
    webhook = await client.post(WEBHOOK, content=b"{}", headers=webhook_headers("x"))
    assert_error(webhook, 503, "voice_not_configured")


async def test_without_a_model_it_is_503_llm_not_configured(
    voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    response = await voice_client.post(
        "/ai/voice-session", headers=auth_headers(codec, user), json={}
    )
    assert_error(response, 503, "llm_not_configured")
    assert await _count(db_session, VoiceSession) == 0


async def test_voice_sessions_list_is_the_callers_and_paginated(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    other = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    headers = auth_headers(codec, user)
    rooms = [(await _start(voice_client, headers))["room"] for _ in range(3)]
    await _start(voice_client, auth_headers(codec, other))

    first = await voice_client.get("/ai/voice-sessions", headers=headers, params={"limit": 2})
    assert first.status_code == 200
    second = await voice_client.get(
        "/ai/voice-sessions",
        headers=headers,
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
    )
    listed = [s["room"] for s in first.json()["items"] + second.json()["items"]]
    assert sorted(listed) == sorted(rooms)
    assert second.json()["next_cursor"] is None


async def _post_webhook(
    client: httpx.AsyncClient, body: bytes, authorization: str | None
) -> httpx.Response:
    return await client.post(WEBHOOK, content=body, headers=webhook_headers(authorization))


async def test_webhooks_start_and_end_the_session_once_per_event_id(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    room = (await _start(voice_client, auth_headers(codec, user)))["room"]
    now = int(time.time())

    started = webhook_body("room_started", room, event_id="EV_start", created_at=now - 95)
    response = await _post_webhook(voice_client, started, sign_webhook(started))
    assert response.status_code == 200, response.text
    assert response.json() == {"outcome": "applied"}
    # LiveKit retries a delivery it is unsure of: the same id changes nothing the second time.
    again = await _post_webhook(voice_client, started, sign_webhook(started))
    assert again.json() == {"outcome": "duplicate"}

    finished = webhook_body("room_finished", room, event_id="EV_end", created_at=now - 5)
    response = await _post_webhook(voice_client, finished, sign_webhook(finished))
    assert response.json() == {"outcome": "applied"}

    [listed] = (
        await voice_client.get("/ai/voice-sessions", headers=auth_headers(codec, user))
    ).json()["items"]
    assert listed["status"] == "ended"
    assert listed["duration_seconds"] == 90
    assert await _count(db_session, VoiceWebhookEvent) == 2


async def test_unknown_event_types_and_rooms_are_recorded_and_ignored(
    voice_client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    for body in (
        webhook_body("egress_ended", "studypilot-voice-x"),
        webhook_body("room_started", "someone-elses-room"),
    ):
        response = await _post_webhook(voice_client, body, sign_webhook(body))
        assert response.status_code == 200, response.text
        assert response.json() == {"outcome": "ignored"}
    assert await _count(db_session, VoiceSession) == 0


async def test_tampered_unsigned_wrong_key_and_replayed_webhooks_are_401(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    room = (await _start(voice_client, auth_headers(codec, user)))["room"]
    body = webhook_body("room_finished", room)
    signature = sign_webhook(body)

    tampered = body.replace(b"room_finished", b"room_started")
    assert_error(await _post_webhook(voice_client, tampered, signature), 401, "invalid_webhook")
    assert_error(await _post_webhook(voice_client, body, None), 401, "invalid_webhook")
    assert_error(await _post_webhook(voice_client, body, "not-a-jwt"), 401, "invalid_webhook")
    wrong_secret = sign_webhook(body, secret="another-secret-" + "f" * 32)
    assert_error(await _post_webhook(voice_client, body, wrong_secret), 401, "invalid_webhook")
    wrong_key = sign_webhook(body, key="another-key")
    assert_error(await _post_webhook(voice_client, body, wrong_key), 401, "invalid_webhook")
    # A captured, correctly signed request sent again later: its event is too old to apply.
    old = webhook_body("room_finished", room, created_at=int(time.time()) - 3600)
    assert_error(await _post_webhook(voice_client, old, sign_webhook(old)), 401, "webhook_replayed")

    [voice_session] = (await db_session.scalars(select(VoiceSession))).all()
    await db_session.refresh(voice_session)
    assert voice_session.status == "created"
    assert await _count(db_session, VoiceWebhookEvent) == 0
    assert await _count(db_session, VoiceTranscriptLine) == 0
