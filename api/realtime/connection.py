"""One websocket, from first-message auth to close: a receive loop for client messages, a pump
from the user's event stream (filtered by the socket's topics) into a bounded outbox, and a
sender draining the outbox. Whatever needs the socket closed (auth failure, a slow consumer, a
revoked sign-in, shutdown) calls `close_soon`; `serve` then tears the rest down and closes.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.websockets import WebSocket, WebSocketState

from api.realtime.chat import conversation_topic
from api.realtime.hub import RealtimeHub
from api.realtime.protocol import (
    AuthMessage,
    ChatCancelMessage,
    ChatSendMessage,
    CloseCode,
    ErrorMessage,
    PingMessage,
    PongMessage,
    ReadyMessage,
    ResumeMessage,
    ResyncRequiredMessage,
    SubscribedMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    client_message_adapter,
)
from core.config import Settings
from core.db import unit_of_work
from core.errors import AppError
from core.events import (
    DeliveredEvent,
    EventBus,
    ResyncRequiredError,
    SlowConsumerError,
    event_id_key,
)
from domain.conversations.schemas import ChatRequest
from domain.conversations.service import ConversationService
from domain.realtime.tickets import TicketGrant, TicketStore
from domain.users.models import User
from domain.users.repository import UserRepository

log = structlog.get_logger(__name__)

_CONVERSATION_PREFIX = "conversation:"


class TokenBucket:
    """Inbound message rate: `rate` per second sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, float(burst)
        self._tokens, self._at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Connection:
    def __init__(
        self, websocket: WebSocket, state: State, tickets: TicketStore, hub: RealtimeHub
    ) -> None:
        self.websocket = websocket
        self._state = state
        self._settings: Settings = state.settings
        self._bus: EventBus = state.event_bus
        self._tickets = tickets
        self._hub = hub
        self.user_id = uuid.UUID(int=0)
        self.family_id = uuid.UUID(int=0)
        self.topics: set[str] = set()
        # The newest event id the pump has passed: replies carry it as a safe resume point.
        self.position = "0-0"
        self._outbox: asyncio.Queue[str] = asyncio.Queue(self._settings.realtime_subscriber_queue)
        self._closing: tuple[CloseCode, str] | None = None
        self._close_requested = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        # The newest id enqueued, and the topics then: a resume does not send those twice.
        self._enqueued_through = "0-0"
        self._rate = TokenBucket(
            self._settings.realtime_messages_per_second, self._settings.realtime_message_burst
        )

    def close_soon(self, code: CloseCode, reason: str) -> None:
        if self._closing is None:
            self._closing = (code, reason)
            self._close_requested.set()

    async def serve(self) -> None:
        await self.websocket.accept()
        grant = await self._authenticate()
        if grant is None:
            await self._close()
            return
        self.user_id, self.family_id = grant.user_id, grant.family_id
        structlog.contextvars.bind_contextvars(user_id=str(self.user_id))
        if not self._hub.admit(self):
            self.close_soon(CloseCode.TOO_MANY_CONNECTIONS, "too many connections")
            await self._close()
            return
        tasks: list[asyncio.Task[Any]] = []
        try:
            self.position = await self._bus.last_event_id(self.user_id)
            self._reply(ReadyMessage, type="ready", user_id=self.user_id)
            tasks = [
                asyncio.create_task(self._send_loop()),
                asyncio.create_task(self._receive_loop()),
                asyncio.create_task(self._close_requested.wait()),
            ]
            self._start_pump(self.position, skip_topics=set())
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except Exception:
            log.exception("realtime_connection_failed")
            self.close_soon(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            if self._pump is not None:
                tasks.append(self._pump)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._hub.release(self)
        await self._close()

    async def _close(self) -> None:
        if self._closing is None or self.websocket.client_state != WebSocketState.CONNECTED:
            return
        code, reason = self._closing
        # The peer may have gone first; then nothing is left to tell it.
        with contextlib.suppress(Exception):
            await self.websocket.close(int(code), reason)

    # --- auth --------------------------------------------------------------------------------

    async def _authenticate(self) -> TicketGrant | None:
        try:
            async with asyncio.timeout(self._settings.realtime_auth_timeout_seconds):
                raw = await self._receive_text()
        except TimeoutError:
            self.close_soon(CloseCode.UNAUTHORIZED, "no auth message in time")
            return None
        if raw is None:
            return None
        try:
            message = client_message_adapter.validate_json(raw)
        except ValidationError:
            message = None
        if not isinstance(message, AuthMessage):
            self.close_soon(CloseCode.UNAUTHORIZED, "the first message must be auth")
            return None
        grant = await self._tickets.redeem(message.ticket)
        if grant is None or await self._load_user(grant.user_id) is None:
            self.close_soon(CloseCode.UNAUTHORIZED, "ticket unknown, used or expired")
            return None
        return grant

    async def _load_user(self, user_id: uuid.UUID) -> User | None:
        async with unit_of_work(self._state.sessionmaker) as session:
            return await UserRepository(session).get(user_id)

    async def _receive_text(self) -> str | None:
        """The next text frame; None once the peer has gone. Binary frames are refused."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is not None:
                return str(text)
            self._error(None, "invalid_message", "Messages are JSON text frames.", 422)

    # --- receiving ---------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        limit = self._settings.realtime_max_message_bytes
        while (raw := await self._receive_text()) is not None:
            if len(raw) > limit or len(raw.encode()) > limit:
                self._error(
                    None,
                    "message_too_large",
                    f"Messages are at most {limit} bytes.",
                    413,
                    {"max_bytes": limit},
                )
                continue
            if not self._rate.take():
                self._error(None, "rate_limited", "Too many messages; slow down.", 429)
                continue
            try:
                message = client_message_adapter.validate_json(raw)
            except ValidationError as exc:
                self._error(
                    _request_id_of(raw),
                    "invalid_message",
                    "The message is not valid JSON of a known type.",
                    422,
                    [
                        {"loc": list(e["loc"]), "message": e["msg"], "type": e["type"]}
                        for e in exc.errors(include_url=False, include_input=False)
                    ],
                )
                continue
            request_id = getattr(message, "request_id", None)
            try:
                await self._handle(message)
            except AppError as exc:
                self._error(request_id, exc.code, exc.message, exc.status_code, exc.details)

    async def _handle(self, message: Any) -> None:
        if isinstance(message, PingMessage):
            self._reply(PongMessage, type="pong", request_id=message.request_id)
        elif isinstance(message, SubscribeMessage):
            await self._check_topics(message.topics)
            self.topics |= set(message.topics)
            self._subscribed(message.request_id)
        elif isinstance(message, UnsubscribeMessage):
            self.topics -= set(message.topics)
            self._subscribed(message.request_id)
        elif isinstance(message, ResumeMessage):
            await self._resume(message)
        elif isinstance(message, ChatSendMessage):
            await self._chat(message)
        elif isinstance(message, ChatCancelMessage):
            self._hub.chats.cancel(self.user_id, message.conversation_id)
        elif isinstance(message, AuthMessage):
            self._error(None, "already_authenticated", "This socket is authenticated.", 409)

    async def _check_topics(self, topics: list[str]) -> None:
        """A conversation topic must name one of the user's own conversations (else 404)."""
        ids = {
            uuid.UUID(topic.removeprefix(_CONVERSATION_PREFIX))
            for topic in topics
            if topic.startswith(_CONVERSATION_PREFIX)
        }
        if not ids:
            return
        lease = timedelta(seconds=self._settings.chat_run_lease_seconds)
        async with unit_of_work(self._state.sessionmaker) as session:
            conversations = ConversationService(session, lease)
            for conversation_id in ids:
                await conversations.get(self.user_id, conversation_id)

    def _subscribed(self, request_id: str | None) -> None:
        self._reply(
            SubscribedMessage,
            type="subscribed",
            topics=sorted(self.topics),
            request_id=request_id,
        )

    async def _resume(self, message: ResumeMessage) -> None:
        if message.topics is not None:
            await self._check_topics(message.topics)
        already_sent = set(self.topics)
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if message.topics is not None:
            self.topics = set(message.topics)
        self._subscribed(message.request_id)
        self._start_pump(message.last_event_id, skip_topics=already_sent)

    async def _chat(self, message: ChatSendMessage) -> None:
        user = await self._load_user(self.user_id)
        if user is None:
            self.close_soon(CloseCode.UNAUTHORIZED, "the user no longer exists")
            return
        request = ChatRequest.model_validate(
            message.model_dump(exclude={"type", "request_id"}, exclude_unset=True)
        )
        turn = await self._hub.chats.begin(user, request)
        # Before the turn publishes anything, so its first event is not missed.
        self.topics.add(conversation_topic(turn.conversation_id))
        self._hub.chats.run(user, turn, message.request_id)

    # --- sending -----------------------------------------------------------------------------

    def _start_pump(self, after: str, skip_topics: set[str]) -> None:
        self._pump = asyncio.create_task(self._pump_events(after, skip_topics))

    async def _pump_events(self, after: str, skip_topics: set[str]) -> None:
        """The user's events after `after`, for the subscribed topics, into the outbox."""
        skip_through = self._enqueued_through
        while True:
            try:
                async for delivered in self._bus.subscribe(self.user_id, after=after):
                    after = self.position = delivered.id
                    topic = delivered.event.topic
                    if topic not in self.topics:
                        continue
                    if topic in skip_topics and _not_after(delivered.id, skip_through):
                        continue  # sent on this socket before the resume
                    self._enqueued_through = delivered.id
                    self._enqueue(_render(delivered))
            except ResyncRequiredError:
                requested = after
                after = self.position = await self._bus.last_event_id(self.user_id)
                self._reply(ResyncRequiredMessage, type="resync_required", last_event_id=requested)
            except SlowConsumerError:
                self.close_soon(CloseCode.SLOW_CONSUMER, "slow consumer: resume from last id")
                return
            except Exception:
                log.exception("realtime_pump_failed")
                self.close_soon(CloseCode.INTERNAL_ERROR, "event stream failed")
                return

    def _enqueue(self, text: str) -> None:
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.close_soon(CloseCode.SLOW_CONSUMER, "slow consumer: resume from last id")

    async def _send_loop(self) -> None:
        timeout = self._settings.realtime_send_timeout_seconds
        while True:
            text = await self._outbox.get()
            try:
                async with asyncio.timeout(timeout):
                    await self.websocket.send_text(text)
            except TimeoutError:
                self.close_soon(CloseCode.SLOW_CONSUMER, "slow consumer: resume from last id")
                return
            except Exception:
                return  # the peer is gone; the receive loop sees the disconnect

    def _reply(self, model: Callable[..., BaseModel], **fields: Any) -> None:
        message = model(id=self.position, ts=datetime.now(UTC), **fields)
        self._enqueue(message.model_dump_json())

    def _error(
        self,
        request_id: str | None,
        code: str,
        message: str,
        status: int,
        details: Any = None,
    ) -> None:
        self._reply(
            ErrorMessage,
            type="error",
            code=code,
            message=message,
            status=status,
            details=details,
            request_id=request_id,
        )


def _render(delivered: DeliveredEvent) -> str:
    event = delivered.event
    return json.dumps(
        {
            "type": event.type,
            "id": delivered.id,
            "ts": delivered.ts.isoformat(),
            "topic": event.topic,
            "data": event.data,
        },
        ensure_ascii=False,
    )


def _not_after(event_id: str, through: str) -> bool:
    return event_id_key(event_id) <= event_id_key(through)


def _request_id_of(raw: str) -> str | None:
    """Best effort, for correlating the error of a message that failed validation."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    request_id = value.get("request_id") if isinstance(value, dict) else None
    return request_id if isinstance(request_id, str) and len(request_id) <= 100 else None
