"""A dispatched room becomes a voice job only when its metadata names the voice session minted
for that very room, with its user and conversation. Nothing in the metadata is trusted alone:
it is checked against the `voice_sessions` row, and the user is loaded from the database."""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Literal

import structlog
from pydantic import ValidationError

from core.db import unit_of_work
from domain.conversations.schemas import ContextRefs
from domain.users.models import User
from domain.voice.service import VoiceJobRefusedError, VoiceSessionService
from voice.dispatch import DispatchMetadata
from voice.runtime import VoiceRuntime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class VoiceJob:
    voice_session_id: uuid.UUID
    conversation_id: uuid.UUID
    user: User
    context_refs: ContextRefs | None


async def authorise_job(runtime: VoiceRuntime, metadata: str, room: str) -> VoiceJob:
    try:
        claimed = DispatchMetadata.model_validate_json(metadata)
    except ValidationError as exc:
        raise VoiceJobRefusedError("The dispatch carries no voice session.") from exc
    async with unit_of_work(runtime.sessionmaker) as session:
        voice_session = await VoiceSessionService(session, runtime.run_lease).authorise_job(
            claimed.voice_session_id, room, claimed.user_id, claimed.conversation_id
        )
        user = await session.get(User, voice_session.user_id)
        if user is None:
            raise VoiceJobRefusedError("The voice session's user is gone.")
    refs = ContextRefs.model_validate(voice_session.context_refs)
    return VoiceJob(
        voice_session_id=voice_session.id,
        conversation_id=voice_session.conversation_id,
        user=user,
        context_refs=refs if refs.note_ids or refs.course_ids else None,
    )


@dataclass
class TranscriptRecorder:
    """Writes each spoken line as LiveKit settles it: the student's recognised words, and the
    agent's words as heard (an interrupted answer only up to where it was cut). Lines are
    written in the order they were said, each when no turn is writing (`writing`)."""

    runtime: VoiceRuntime
    voice_session_id: uuid.UUID
    writing: asyncio.Lock
    _last: asyncio.Task[None] | None = field(default=None, init=False)

    def record(self, role: str, text: str, *, interrupted: bool) -> None:
        if role not in ("user", "assistant") or not text.strip():
            return
        speaker: Literal["user", "assistant"] = "user" if role == "user" else "assistant"
        self._last = asyncio.create_task(
            self._write(self._last, speaker, text.strip(), interrupted)
        )

    async def _write(
        self,
        previous: asyncio.Task[None] | None,
        role: Literal["user", "assistant"],
        text: str,
        interrupted: bool,
    ) -> None:
        if previous is not None:
            await previous
        try:
            async with self.writing, unit_of_work(self.runtime.sessionmaker) as session:
                await VoiceSessionService(session, self.runtime.run_lease).record_line(
                    self.voice_session_id, role, text, interrupted=interrupted
                )
        except Exception:
            # A lost transcript line must not end the conversation; the thread still has it.
            log.exception(
                "voice_transcript_write_failed", voice_session_id=str(self.voice_session_id)
            )

    async def drain(self) -> None:
        if self._last is not None:
            await self._last
