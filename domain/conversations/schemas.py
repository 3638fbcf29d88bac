import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import StrictModel
from domain.voice.schemas import VoiceSessionWithTranscript

MAX_MESSAGE_CHARS = 8_000
MAX_REFS = 10


class ContextRefs(StrictModel):
    note_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_REFS)
    course_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_REFS)


class ChatRequest(StrictModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: uuid.UUID | None = Field(
        default=None, description="Continue this conversation; omitted: start a new one."
    )
    context_refs: ContextRefs | None = Field(
        default=None,
        description="Notes and courses (the caller's) to put in front of the model this turn.",
    )
    voice: bool = Field(default=False, description="Answer for speaking aloud.")


class ToolCallRead(BaseModel):
    name: str
    args: dict[str, Any]
    ok: bool = Field(description="False when the tool refused or failed.")


class Citation(BaseModel):
    type: Literal["note", "resource", "course", "document"]
    id: uuid.UUID
    title: str
    page: int | None = Field(
        default=None, description="Documents: the PDF page cited (`[document:<id>#page=<n>]`)."
    )


class Change(BaseModel):
    type: Literal["goal_progress", "schedule_block", "reminder"]
    id: uuid.UUID
    summary: str


class ChatReply(BaseModel):
    conversation_id: uuid.UUID
    message: str = Field(description="The assistant's answer; citations appear as [type:id].")
    tool_calls: list[ToolCallRead]
    citations: list[Citation]
    changes: list[Change] = Field(description="Every data change made in this turn.")
    run_id: uuid.UUID


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    turn_count: int
    running: bool
    created_at: datetime
    updated_at: datetime


class MessageRead(BaseModel):
    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_name: str | None = None


class ConversationDetail(ConversationRead):
    messages: list[MessageRead]
    voice_sessions: list[VoiceSessionWithTranscript] = Field(
        default_factory=list,
        description="Voice sessions held in this conversation, with what was said aloud.",
    )
