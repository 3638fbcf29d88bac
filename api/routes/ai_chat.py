"""`POST /ai/chat` (JSON, or SSE with `Accept: text/event-stream`) and the conversations."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.sse import EventSourceResponse, format_sse_event
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.chat.graph import ChatGraph
from agents.chat.turn import ChatEvent, ChatTurn
from api.ai import AI_ERROR_RESPONSES, ChatCall
from api.deps import CurrentUser, SessionDep, SettingsDep
from api.embedding import EmbeddingDep
from api.errors import ErrorBody, error_responses
from api.routes.voice import voice_session_detail
from core.config import Settings
from core.errors import AppError
from core.pagination import Page, PageParams, page_params
from domain.conversations.models import Conversation
from domain.conversations.schemas import (
    ChatReply,
    ChatRequest,
    ConversationDetail,
    ConversationRead,
    MessageRead,
)
from domain.conversations.service import ConversationService
from domain.voice.service import VoiceSessionService

log = structlog.get_logger(__name__)
router = APIRouter(tags=["ai"])
PageDep = Annotated[PageParams, Depends(page_params)]

SSE_DESCRIPTION = (
    "With `Accept: text/event-stream`: events `conversation` {conversation_id}, `token` {text}, "
    "`tool_call` {name, args}, `tool_result` {name, ok}, then `reply` (the JSON answer) or "
    "`error` {code, message, details}."
)


def _graph(request: Request) -> ChatGraph:
    graph: ChatGraph = request.app.state.chat_agent
    return graph


def _service(session: SessionDep, settings: Settings) -> ConversationService:
    return ConversationService(session, timedelta(seconds=settings.chat_run_lease_seconds))


@router.post(
    "/ai/chat",
    response_model=ChatReply,
    responses={
        **AI_ERROR_RESPONSES,
        **error_responses(404, 409),
        200: {
            "description": "The answer. " + SSE_DESCRIPTION,
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def chat(
    body: ChatRequest,
    call: ChatCall,
    request: Request,
    settings: SettingsDep,
    embedding: EmbeddingDep,
) -> Any:
    turn = ChatTurn(
        graph=_graph(request),
        model=call.model,
        model_name=call.model_name,
        runs=call.runs,
        sessionmaker=request.app.state.sessionmaker,
        embedding=embedding,
        settings=settings,
        user=call.user,
        request=body,
        reminder_timers=request.app.state.reminder_timers,
        plan_tracker=request.app.state.plan_tracker,
    )
    await turn.begin()
    if "text/event-stream" in request.headers.get("accept", ""):
        return EventSourceResponse(_stream(turn))
    return await turn.reply()


async def _stream(turn: ChatTurn) -> AsyncIterator[bytes]:
    """Once the stream has begun the status is sent, so a failure becomes an `error` event."""
    events = turn.events()
    try:
        async for event in events:
            yield _sse(event)
    except AppError as exc:
        yield _error_event(exc.code, exc.message, exc.details)
    except Exception:
        log.exception("chat_stream_failed")
        yield _error_event(
            "internal_error", "Something went wrong on our side; it has been logged."
        )
    finally:
        # Closes the turn (rollback, release) even when the client is gone mid-stream.
        await events.aclose()


def _error_event(code: str, message: str, details: Any = None) -> bytes:
    body = ErrorBody(code=code, message=message, details=details)
    return _sse(ChatEvent("error", body.model_dump(mode="json")))


def _sse(event: ChatEvent) -> bytes:
    return format_sse_event(
        event=event.kind, data_str=json.dumps(event.data, ensure_ascii=False, default=str)
    )


@router.get(
    "/ai/conversations",
    response_model=Page[ConversationRead],
    responses=error_responses(401, 422),
)
async def list_conversations(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[ConversationRead]:
    conversations, cursor = await _service(session, settings).page(user.id, page)
    return Page(items=[_read(c) for c in conversations], next_cursor=cursor)


@router.get(
    "/ai/conversations/{conversation_id}",
    response_model=ConversationDetail,
    responses=error_responses(401, 404, 422),
)
async def get_conversation(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> ConversationDetail:
    conversation = await _service(session, settings).get(user.id, conversation_id)
    messages: list[BaseMessage] = []
    if conversation.head_checkpoint_id is not None:
        snapshot = await _graph(request).aget_state(
            {
                "configurable": {
                    "thread_id": str(conversation.id),
                    "checkpoint_id": conversation.head_checkpoint_id,
                }
            }
        )
        messages = snapshot.values.get("messages", [])
    voice_sessions = await VoiceSessionService(
        session, timedelta(seconds=settings.chat_run_lease_seconds)
    ).with_transcripts(conversation.id)
    return ConversationDetail(
        **_read(conversation).model_dump(),
        messages=[_message(m) for m in messages],
        voice_sessions=[voice_session_detail(v, lines) for v, lines in voice_sessions],
    )


@router.delete(
    "/ai/conversations/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 409, 422),
)
async def delete_conversation(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    background_tasks: BackgroundTasks,
) -> Response:
    await _service(session, settings).delete(user.id, conversation_id)
    checkpointer = _graph(request).checkpointer
    if isinstance(checkpointer, BaseCheckpointSaver):
        # After the response, so after the commit: checkpoints never vanish under a live row.
        background_tasks.add_task(checkpointer.adelete_thread, str(conversation_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _read(conversation: Conversation) -> ConversationRead:
    return ConversationRead(
        id=conversation.id,
        title=conversation.title,
        turn_count=conversation.turn_count,
        running=conversation.running_since is not None,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def _message(message: BaseMessage) -> MessageRead:
    if isinstance(message, HumanMessage):
        return MessageRead(role="user", content=message.text)
    if isinstance(message, ToolMessage):
        return MessageRead(role="tool", content=message.text, tool_name=message.name)
    calls = message.tool_calls if isinstance(message, AIMessage) else []
    return MessageRead(
        role="assistant",
        content=message.text,
        tool_calls=[{"name": c["name"], "args": c["args"]} for c in calls],
    )
