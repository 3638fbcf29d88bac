"""The websocket protocol: every message as a typed JSON envelope.

Client messages are validated with these models; server messages are written from them (bus
events in their stored, already validated shape). `protocol_schema()` publishes both as one
JSON Schema (`GET /api/v1/realtime/schema`), and `docs/asyncapi.json` is generated from it.
"""

import uuid
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, Field, TypeAdapter

from core.schemas import StrictModel
from domain.conversations.schemas import ChatReply, ChatRequest
from domain.goals.schemas import ProgressUpdated

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

EventId = Annotated[
    str,
    Field(
        pattern=r"^\d{1,15}-\d{1,10}$",
        description="A per-user event id, `<milliseconds>-<sequence>`, ordered per user.",
        examples=["1764547200000-0"],
    ),
]
Topic = Annotated[
    str,
    Field(
        pattern=r"^(notifications|progress|plans|documents|conversation:[0-9a-fA-F-]{36})$",
        description="`notifications`, `progress`, `plans`, `documents` or "
        "`conversation:<conversation id>` (one of the user's own).",
    ),
]
Topics = Annotated[list[Topic], Field(min_length=1, max_length=50)]
RequestId = Annotated[
    str | None,
    Field(
        default=None,
        max_length=100,
        description="Echoed in this request's replies (`chat.started`, `chat.error`, `error`).",
    ),
]


class CloseCode(IntEnum):
    """Application close codes (4000-4999) and the standard ones the server uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    UNAUTHORIZED = 4401  # no/expired/used ticket, no auth in time, or the sign-in was revoked
    SLOW_CONSUMER = 4408  # fell behind its buffer: reconnect and resume from the last id
    TOO_MANY_CONNECTIONS = 4429  # the user's connection cap on this server


# --- client -> server ---------------------------------------------------------------------


class AuthMessage(StrictModel):
    """Must be the first message, within the auth timeout."""

    type: Literal["auth"]
    ticket: str = Field(min_length=1, max_length=200)


class SubscribeMessage(StrictModel):
    """Adds topics; live events from now (use `resume` for what came before)."""

    type: Literal["subscribe"]
    topics: Topics
    request_id: RequestId


class UnsubscribeMessage(StrictModel):
    type: Literal["unsubscribe"]
    topics: Topics
    request_id: RequestId


class ResumeMessage(StrictModel):
    """Replays the user's events after `last_event_id` for the subscribed topics (replaced by
    `topics` when given), in order and without duplicates, then continues live. If that id is
    no longer kept the server answers `resync_required` and continues live from now."""

    type: Literal["resume"]
    last_event_id: EventId
    topics: Topics | None = None
    request_id: RequestId


class ChatSendMessage(ChatRequest):
    """The same chat turn as `POST /ai/chat`: same tools, limits and records. Its events go to
    `conversation:<id>` (the socket is subscribed to it) and survive a dropped socket."""

    type: Literal["chat.send"]
    request_id: RequestId


class ChatCancelMessage(StrictModel):
    type: Literal["chat.cancel"]
    conversation_id: uuid.UUID
    request_id: RequestId


class PingMessage(StrictModel):
    type: Literal["ping"]
    request_id: RequestId


ClientMessage: TypeAlias = Annotated[
    AuthMessage
    | SubscribeMessage
    | UnsubscribeMessage
    | ResumeMessage
    | ChatSendMessage
    | ChatCancelMessage
    | PingMessage,
    Field(discriminator="type"),
]
# A run of mypy from its incremental cache has read these aliases as values (a fresh run does
# not); the ignore covers both readings.
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)  # type: ignore[arg-type, unused-ignore]


# --- server -> client ---------------------------------------------------------------------


class Envelope(BaseModel):
    id: EventId = Field(
        description="For events, the event's id. For replies, the socket's position: the "
        "newest event id it has passed (a safe `last_event_id` to resume from)."
    )
    ts: datetime


class ReadyMessage(Envelope):
    """Sent once authenticated."""

    type: Literal["ready"]
    user_id: uuid.UUID


class SubscribedMessage(Envelope):
    """The socket's topics after a subscribe, unsubscribe or resume."""

    type: Literal["subscribed"]
    topics: list[str]
    request_id: str | None = None


class PongMessage(Envelope):
    type: Literal["pong"]
    request_id: str | None = None


class ResyncRequiredMessage(Envelope):
    """`last_event_id` is older than the kept history: refetch over REST; live events follow."""

    type: Literal["resync_required"]
    last_event_id: str


class ErrorMessage(Envelope):
    """A refused message, in the REST error shape; `status` is the HTTP status it would have."""

    type: Literal["error"]
    code: str
    message: str
    details: Any | None = None
    status: int
    request_id: str | None = None


class ChatStartedData(BaseModel):
    conversation_id: uuid.UUID
    request_id: str | None = None


class ChatTokenData(BaseModel):
    conversation_id: uuid.UUID
    text: str


class ChatToolCallData(BaseModel):
    conversation_id: uuid.UUID
    name: str
    args: dict[str, Any]


class ChatToolResultData(BaseModel):
    conversation_id: uuid.UUID
    name: str
    ok: bool


class ChatErrorData(BaseModel):
    conversation_id: uuid.UUID | None = None
    request_id: str | None = None
    code: str
    message: str
    details: Any | None = None
    status: int


class EventEnvelope(Envelope):
    topic: str


class ChatStartedEvent(EventEnvelope):
    type: Literal["chat.started"]
    data: ChatStartedData


class ChatTokenEvent(EventEnvelope):
    type: Literal["chat.token"]
    data: ChatTokenData


class ChatToolCallEvent(EventEnvelope):
    type: Literal["chat.tool_call"]
    data: ChatToolCallData


class ChatToolResultEvent(EventEnvelope):
    type: Literal["chat.tool_result"]
    data: ChatToolResultData


class ChatDoneEvent(EventEnvelope):
    """The same reply object as `POST /ai/chat` answers."""

    type: Literal["chat.done"]
    data: ChatReply


class ChatErrorEvent(EventEnvelope):
    """A turn that failed or was cancelled (`code` `cancelled`); or one refused before it began
    (then sent to the requesting socket only, with its `request_id`)."""

    type: Literal["chat.error"]
    data: ChatErrorData


class ProgressUpdatedEvent(EventEnvelope):
    type: Literal["progress.updated"]
    data: ProgressUpdated


class NotificationEvent(EventEnvelope):
    """From reminder delivery and scheduled jobs (the notification as REST shows it)."""

    type: Literal["notification"]
    data: dict[str, Any]


class PlanUpdatedEvent(EventEnvelope):
    """Study plan status changes and re-plans (the plan as REST shows it)."""

    type: Literal["plan.updated"]
    data: dict[str, Any]


class DocumentUpdatedEvent(EventEnvelope):
    type: Literal["document.updated"]
    data: dict[str, Any]


ServerMessage: TypeAlias = Annotated[
    ReadyMessage
    | SubscribedMessage
    | PongMessage
    | ResyncRequiredMessage
    | ErrorMessage
    | ChatStartedEvent
    | ChatTokenEvent
    | ChatToolCallEvent
    | ChatToolResultEvent
    | ChatDoneEvent
    | ChatErrorEvent
    | ProgressUpdatedEvent
    | NotificationEvent
    | PlanUpdatedEvent
    | DocumentUpdatedEvent,
    Field(discriminator="type"),
]
server_message_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)  # type: ignore[arg-type, unused-ignore]


def protocol_schema() -> dict[str, Any]:
    """One JSON Schema document: `$defs/ClientMessage` and `$defs/ServerMessage` (both unions
    discriminated by `type`) and every message they name."""
    template = "#/$defs/{model}"
    client = client_message_adapter.json_schema(ref_template=template)
    server = server_message_adapter.json_schema(ref_template=template, mode="serialization")
    definitions = {**client.pop("$defs", {}), **server.pop("$defs", {})}
    definitions["ClientMessage"] = client
    definitions["ServerMessage"] = server
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "/api/v1/realtime/schema",
        "title": "StudyPilot realtime protocol",
        "description": "Messages over GET /api/v1/realtime/ws. See docs/realtime.md.",
        "$defs": definitions,
    }
