"""Voice: `POST /ai/voice-session` (a LiveKit room and token), LiveKit's webhook, the list."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from api.ai import AI_ERROR_RESPONSES, ChatCall
from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import error_responses
from core.config import Settings
from core.pagination import Page, PageParams, page_params
from domain.voice.models import VoiceSession, VoiceTranscriptLine
from domain.voice.schemas import (
    TranscriptLineRead,
    VoiceSessionCreated,
    VoiceSessionRead,
    VoiceSessionRequest,
    VoiceSessionWithTranscript,
    WebhookReceipt,
)
from domain.voice.service import VoiceSessionService
from voice.dispatch import DispatchMetadata
from voice.settings import LiveKitSettings, livekit_settings
from voice.tokens import participant_token
from voice.webhooks import verify_webhook

router = APIRouter(tags=["voice"])
PageDep = Annotated[PageParams, Depends(page_params)]


async def _livekit(settings: SettingsDep) -> LiveKitSettings:
    return livekit_settings(settings)


# Declared before the AI admission: an unconfigured server answers 503 before a limit is spent.
LiveKitDep = Annotated[LiveKitSettings, Depends(_livekit)]


def _service(session: SessionDep, settings: Settings) -> VoiceSessionService:
    return VoiceSessionService(session, timedelta(seconds=settings.chat_run_lease_seconds))


@router.post(
    "/ai/voice-session",
    status_code=status.HTTP_201_CREATED,
    response_model=VoiceSessionCreated,
    responses={**AI_ERROR_RESPONSES, **error_responses(404)},
    summary="Start talking: a LiveKit room, a participant token, and the voice agent dispatched",
)
async def start_voice_session(
    body: VoiceSessionRequest,
    livekit: LiveKitDep,
    call: ChatCall,
    session: SessionDep,
    settings: SettingsDep,
) -> VoiceSessionCreated:
    ttl = timedelta(seconds=settings.voice_token_ttl_seconds)
    voice_session = await _service(session, settings).start(call.user.id, body, ttl)
    token = participant_token(
        livekit,
        room=voice_session.room,
        identity=str(call.user.id),
        name=call.user.name or call.user.email,
        agent_name=settings.voice_agent_name,
        metadata=DispatchMetadata(
            voice_session_id=voice_session.id,
            conversation_id=voice_session.conversation_id,
            user_id=call.user.id,
        ),
        ttl=ttl,
    )
    return VoiceSessionCreated(
        voice_session_id=voice_session.id,
        url=livekit.url,
        room=voice_session.room,
        token=token,
        conversation_id=voice_session.conversation_id,
        expires_at=voice_session.token_expires_at,
    )


@router.post(
    "/ai/voice-session/webhook",
    response_model=WebhookReceipt,
    # 422: a NUL in the query string, refused on every route.
    responses=error_responses(401, 422, 503),
    summary="LiveKit's webhook (signed JWT in Authorization over the raw body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/webhook+json": {"schema": {"type": "object"}}},
        }
    },
)
async def livekit_webhook(
    request: Request,
    livekit: LiveKitDep,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookReceipt:
    # The raw bytes, not a parsed model: the signature covers them exactly. The header is read
    # here rather than declared: LiveKit's token is not a parameter a client fills in.
    authorization = request.headers.get("authorization")
    facts = verify_webhook(livekit, await request.body(), authorization)
    max_age = timedelta(seconds=settings.voice_webhook_max_age_seconds)
    outcome = await _service(session, settings).apply_webhook(facts, max_age)
    return WebhookReceipt(outcome=outcome)


@router.get(
    "/ai/voice-sessions",
    response_model=Page[VoiceSessionRead],
    responses=error_responses(401, 422),
)
async def list_voice_sessions(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[VoiceSessionRead]:
    voice_sessions, cursor = await _service(session, settings).page(user.id, page)
    return Page(items=[voice_session_read(v) for v in voice_sessions], next_cursor=cursor)


def voice_session_read(voice_session: VoiceSession) -> VoiceSessionRead:
    return VoiceSessionRead.model_validate(
        {
            "id": voice_session.id,
            "conversation_id": voice_session.conversation_id,
            "room": voice_session.room,
            "status": voice_session.status,
            "started_at": voice_session.started_at,
            "ended_at": voice_session.ended_at,
            "duration_seconds": voice_session.duration_seconds,
            "created_at": voice_session.created_at,
        }
    )


def voice_session_detail(
    voice_session: VoiceSession, lines: list[VoiceTranscriptLine]
) -> VoiceSessionWithTranscript:
    return VoiceSessionWithTranscript(
        **voice_session_read(voice_session).model_dump(),
        transcript=[TranscriptLineRead.model_validate(line) for line in lines],
    )
