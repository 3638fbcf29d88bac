"""Chat turns started from a socket: the same `ChatTurn` as `POST /ai/chat`, carried over the
event bus instead of an HTTP response.

A turn runs in a task of the API process, not of the socket, so it keeps going when the socket
drops; every event goes to the conversation's topic, where a reconnecting client (on any API
process) resumes it from its last event id. A second `chat.send` to a conversation with a turn
in flight is refused with `run_in_progress` (the turn's claim on the conversation decides, so
this holds across processes).
"""

import asyncio
import uuid
from typing import Any

import anyio
import structlog
from fastapi.encoders import jsonable_encoder
from starlette.datastructures import State

from agents.chat.turn import ChatEvent, ChatTurn
from agents.llm import ChatModels, model_label
from agents.runs import AgentRuns
from core.config import Settings
from core.errors import AppError, NotFoundError
from core.events import Event, EventBus
from domain.conversations.schemas import ChatRequest
from domain.embeddings.runtime import EmbeddingRuntime
from domain.users.models import User

log = structlog.get_logger(__name__)

# ChatTurn's event kinds, as the socket protocol names them.
_TYPES = {
    "conversation": "chat.started",
    "token": "chat.token",
    "tool_call": "chat.tool_call",
    "tool_result": "chat.tool_result",
    "reply": "chat.done",
}


class TurnNotRunningError(NotFoundError):
    code = "turn_not_running"

    def __init__(self) -> None:
        super().__init__("No chat turn of yours is running for this conversation on this server.")


def conversation_topic(conversation_id: uuid.UUID) -> str:
    return f"conversation:{conversation_id}"


class SocketChats:
    """The chat turns this process runs for sockets, by conversation."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._running: dict[uuid.UUID, tuple[uuid.UUID, asyncio.Task[None]]] = {}

    async def begin(self, user: User, request: ChatRequest) -> ChatTurn:
        """Admit and begin a turn: refusals (limits, unknown or busy conversation, no model)
        raise here, before anything is published."""
        state = self._state
        settings: Settings = state.settings
        models: ChatModels = state.chat_models
        model = models.for_task("chat")
        runs = AgentRuns(settings, state.sessionmaker, state.rate_limiter)
        await runs.admit(user.id)
        turn = ChatTurn(
            graph=state.chat_agent,
            model=model,
            model_name=model_label(model),
            runs=runs,
            sessionmaker=state.sessionmaker,
            embedding=EmbeddingRuntime(state.embedder, state.embedding_model_id),
            settings=settings,
            user=user,
            request=request,
            reminder_timers=state.reminder_timers,
            plan_tracker=state.plan_tracker,
        )
        await turn.begin()
        return turn

    def run(self, user: User, turn: ChatTurn, request_id: str | None) -> None:
        """Carry the begun turn's events to the bus, detached from the socket."""
        task = asyncio.create_task(self._carry(user.id, turn, request_id))
        self._running[turn.conversation_id] = (user.id, task)
        task.add_done_callback(lambda _: self._running.pop(turn.conversation_id, None))

    def cancel(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        running = self._running.get(conversation_id)
        if running is None or running[0] != user_id:
            raise TurnNotRunningError()
        running[1].cancel()

    async def _carry(self, user_id: uuid.UUID, turn: ChatTurn, request_id: str | None) -> None:
        bus: EventBus = self._state.event_bus
        conversation_id = turn.conversation_id
        topic = conversation_topic(conversation_id)
        events = turn.events()

        async def publish(kind: str, data: dict[str, Any]) -> None:
            await bus.publish([Event(user_id, topic, kind, data)])

        try:
            async for event in events:
                await publish(_TYPES[event.kind], _data(event, conversation_id, request_id))
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                await events.aclose()
                await publish(
                    "chat.error",
                    error_data(
                        "cancelled", "The turn was cancelled.", 499, conversation_id, request_id
                    ),
                )
            raise
        except AppError as exc:
            await publish(
                "chat.error",
                error_data(
                    exc.code,
                    exc.message,
                    exc.status_code,
                    conversation_id,
                    request_id,
                    exc.details,
                ),
            )
        except Exception:
            log.exception("socket_chat_turn_failed", conversation_id=str(conversation_id))
            await publish(
                "chat.error",
                error_data(
                    "internal_error",
                    "Something went wrong on our side; it has been logged.",
                    500,
                    conversation_id,
                    request_id,
                ),
            )
        finally:
            with anyio.CancelScope(shield=True):
                await events.aclose()

    async def aclose(self) -> None:
        tasks = [task for _, task in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _data(event: ChatEvent, conversation_id: uuid.UUID, request_id: str | None) -> dict[str, Any]:
    if event.kind == "reply":
        return event.data
    if event.kind == "conversation":
        return {"conversation_id": str(conversation_id), "request_id": request_id}
    return {"conversation_id": str(conversation_id), **event.data}


def error_data(
    code: str,
    message: str,
    status: int,
    conversation_id: uuid.UUID | None,
    request_id: str | None,
    details: Any = None,
) -> dict[str, Any]:
    return {
        "conversation_id": str(conversation_id) if conversation_id else None,
        "request_id": request_id,
        "code": code,
        "message": message,
        "details": jsonable_encoder(details),
        "status": status,
    }
