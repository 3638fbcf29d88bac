"""Voice sessions: who may talk in which room about which conversation, and what LiveKit says
happened to the room. Tokens and signatures are LiveKit's business and live in `voice/`."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, UnauthorizedError
from core.pagination import PageParams
from domain.conversations.schemas import ContextRefs
from domain.conversations.service import ConversationService
from domain.courses.service import CourseService
from domain.notes.service import NoteService
from domain.voice.models import VoiceSession, VoiceTranscriptLine, VoiceWebhookEvent
from domain.voice.repository import VoiceSessionRepository
from domain.voice.schemas import VoiceSessionRequest

VOICE_CONVERSATION_TITLE = "Voice conversation"
Outcome = Literal["applied", "duplicate", "ignored"]


class WebhookReplayedError(UnauthorizedError):
    code = "webhook_replayed"


class VoiceJobRefusedError(AppError):
    """A dispatch whose metadata does not match a voice session minted for that room."""

    status_code = 403
    code = "voice_job_refused"


@dataclass(frozen=True)
class WebhookFacts:
    """What a verified LiveKit webhook says, free of LiveKit's types."""

    event_id: str
    event: str
    room: str | None
    participant_identity: str | None
    created_at: datetime


def room_name(voice_session_id: uuid.UUID) -> str:
    return f"studypilot-voice-{voice_session_id}"


class VoiceSessionService:
    def __init__(self, session: AsyncSession, run_lease: timedelta) -> None:
        self.session = session
        self.voice_sessions = VoiceSessionRepository(session)
        self.conversations = ConversationService(session, run_lease)

    async def start(
        self, user_id: uuid.UUID, request: VoiceSessionRequest, token_ttl: timedelta
    ) -> VoiceSession:
        """A voice session in the caller's conversation (a new one when none is named). Another
        user's conversation, note or course is 404, before anything is written."""
        refs = ContextRefs(
            note_ids=request.note_ids,
            course_ids=[request.course_id] if request.course_id else [],
        )
        await self._check_refs(user_id, refs)
        if request.conversation_id is not None:
            conversation = await self.conversations.get(user_id, request.conversation_id)
        else:
            conversation = await self.conversations.open(user_id, VOICE_CONVERSATION_TITLE)
        voice_session_id = uuid.uuid4()
        voice_session = VoiceSession(
            id=voice_session_id,
            user_id=user_id,
            conversation_id=conversation.id,
            room=room_name(voice_session_id),
            status="created",
            context_refs=refs.model_dump(mode="json"),
            token_expires_at=datetime.now(UTC) + token_ttl,
        )
        await self.voice_sessions.add(voice_session)
        return voice_session

    async def _check_refs(self, user_id: uuid.UUID, refs: ContextRefs) -> None:
        notes = NoteService(self.session)
        for note_id in refs.note_ids:
            await notes.get(user_id, note_id)
        courses = CourseService(self.session)
        for course_id in refs.course_ids:
            await courses.detail(user_id, course_id)

    async def page(
        self, user_id: uuid.UUID, params: PageParams
    ) -> tuple[list[VoiceSession], str | None]:
        return await self.voice_sessions.page(user_id, params)

    async def with_transcripts(
        self, conversation_id: uuid.UUID
    ) -> list[tuple[VoiceSession, list[VoiceTranscriptLine]]]:
        """A conversation's voice sessions and what was said in each; the caller has checked
        that the conversation is the user's."""
        sessions = await self.voice_sessions.for_conversation(conversation_id)
        lines = await self.voice_sessions.lines([s.id for s in sessions])
        return [(s, [line for line in lines if line.voice_session_id == s.id]) for s in sessions]

    async def apply_webhook(self, facts: WebhookFacts, max_age: timedelta) -> Outcome:
        """Apply a verified event once. An event older than `max_age` is a captured request
        sent again, refused; a redelivery of an applied event id changes nothing."""
        if datetime.now(UTC) - facts.created_at > max_age:
            raise WebhookReplayedError(
                "This webhook event is too old to be applied.",
                {"max_age_seconds": int(max_age.total_seconds())},
            )
        fresh = await self.voice_sessions.remember_event(
            VoiceWebhookEvent(
                event_id=facts.event_id,
                event=facts.event,
                room=facts.room,
                created_at=facts.created_at,
            )
        )
        if not fresh:
            return "duplicate"
        voice_session = (
            await self.voice_sessions.by_room_for_update(facts.room) if facts.room else None
        )
        if voice_session is None:
            return "ignored"
        return self._apply(voice_session, facts)

    def _apply(self, voice_session: VoiceSession, facts: WebhookFacts) -> Outcome:
        at = facts.created_at
        if facts.event == "room_started" or (
            facts.event == "participant_joined"
            and facts.participant_identity == str(voice_session.user_id)
        ):
            if voice_session.status == "created":
                voice_session.status = "active"
            if voice_session.started_at is None:
                voice_session.started_at = at
            return "applied"
        if facts.event == "room_finished":
            voice_session.status = "ended"
            # Events may arrive out of order; the room's end is the latest one heard.
            if voice_session.ended_at is None or at > voice_session.ended_at:
                voice_session.ended_at = at
            started = voice_session.started_at or voice_session.created_at
            voice_session.duration_seconds = max(
                0, int((voice_session.ended_at - started).total_seconds())
            )
            return "applied"
        return "ignored"

    async def authorise_job(
        self, voice_session_id: uuid.UUID, room: str, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> VoiceSession:
        """The worker's check of a dispatch: the metadata must name the session minted for this
        very room, its user and its conversation, and the session must not have ended."""
        voice_session = await self.voice_sessions.get(voice_session_id)
        if (
            voice_session is None
            or voice_session.room != room
            or voice_session.user_id != user_id
            or voice_session.conversation_id != conversation_id
            or voice_session.status == "ended"
        ):
            raise VoiceJobRefusedError("This room has no voice session for that user.")
        # The conversation must still be the user's (it may have been deleted since).
        await self.conversations.get(user_id, conversation_id)
        return voice_session

    async def record_line(
        self,
        voice_session_id: uuid.UUID,
        role: Literal["user", "assistant"],
        text: str,
        *,
        interrupted: bool = False,
    ) -> None:
        await self.voice_sessions.add_line(
            VoiceTranscriptLine(
                voice_session_id=voice_session_id, role=role, text=text, interrupted=interrupted
            )
        )
