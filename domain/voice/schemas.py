import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import StrictModel

VoiceStatus = Literal["created", "active", "ended"]
MAX_NOTES = 10


class VoiceSessionRequest(StrictModel):
    conversation_id: uuid.UUID | None = Field(
        default=None,
        description="Talk in this conversation (voice and text share its thread); omitted: "
        "a new conversation.",
    )
    course_id: uuid.UUID | None = Field(
        default=None, description="A course (yours, enrolled or public) to talk about."
    )
    note_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_NOTES,
        description="Your notes to put in front of the agent on every spoken turn.",
    )


class VoiceSessionCreated(BaseModel):
    voice_session_id: uuid.UUID
    url: str = Field(description="The LiveKit server to connect to.")
    room: str
    token: str = Field(description="Participant token for this room only.")
    conversation_id: uuid.UUID
    expires_at: datetime = Field(description="The token is refused after this.")


class TranscriptLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: Literal["user", "assistant"]
    text: str = Field(description="What was said aloud; an interrupted answer stops where cut.")
    interrupted: bool
    created_at: datetime


class VoiceSessionRead(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    room: str
    status: VoiceStatus
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    created_at: datetime


class VoiceSessionWithTranscript(VoiceSessionRead):
    transcript: list[TranscriptLineRead]


class WebhookReceipt(BaseModel):
    outcome: Literal["applied", "duplicate", "ignored"] = Field(
        description="duplicate: this event id was already applied; ignored: an event type or "
        "room this service does not track."
    )
