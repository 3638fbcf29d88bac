"""One chat turn, end to end: checks, the conversation's running mark, the graph run, and the
commit — streamed as events, so the JSON answer and the SSE stream share one code path.

Atomicity: the tools write through the turn's own session, committed only after the model's
last answer, together with the conversation's new head checkpoint. A failed turn rolls those
writes back and leaves the head where it was; the checkpoints it wrote are never read again.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import psycopg
import structlog
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import MessagesState
from langgraph.types import Durability, StreamMode
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.chat.attachments import render_attachments
from agents.chat.context import ChatContext
from agents.chat.graph import (
    CHAT_TOOL_TOKENS,
    MAX_MODEL_STEPS,
    RECURSION_LIMIT,
    ChatGraph,
    current_turn_start,
)
from agents.limits import chat_budget
from agents.llm import provider_errors
from agents.runs import AgentRuns, TrackedRun
from core.after_commit import discard_deferred, run_deferred
from core.config import Settings
from core.db import unit_of_work
from core.errors import LLMProviderError
from core.events import discard_queued_events, publish_queued_events
from domain.conversations.models import Conversation
from domain.conversations.schemas import ChatReply, ChatRequest
from domain.conversations.service import ConversationService
from domain.embeddings.runtime import EmbeddingRuntime
from domain.plans.tracking import PlanTracker
from domain.reminders.timers import ReminderTimers
from domain.users.models import User
from prompts import load_prompt

log = structlog.get_logger(__name__)
STREAM_MODES: list[StreamMode] = ["messages", "updates"]
# One checkpoint when the turn ends, not one per step: only a finished turn becomes the head,
# so intermediate checkpoints would never be read.
DURABILITY: Durability = "exit"
# A document passage adds the page it is on: [document:<id>#page=<n>].
_CITATION = re.compile(r"\[(note|resource|course|document):([0-9a-fA-F-]{36})(#page=\d+)?\]")


@dataclass(frozen=True)
class ChatEvent:
    """`conversation`, `token`, `tool_call`, `tool_result`, then `reply` (or an error)."""

    kind: str
    data: dict[str, Any]


@dataclass
class ChatTurn:
    graph: ChatGraph
    model: BaseChatModel
    model_name: str
    runs: AgentRuns
    sessionmaker: async_sessionmaker[AsyncSession]
    embedding: EmbeddingRuntime
    settings: Settings
    user: User
    request: ChatRequest
    # A conversation opened before its first turn (voice) stays when that turn fails.
    keep_empty_conversation: bool = False
    # The workflow engine's ports, for the tools (None without one).
    reminder_timers: ReminderTimers | None = None
    plan_tracker: PlanTracker | None = None
    _resources: AsyncExitStack = field(default_factory=AsyncExitStack, init=False)
    _session: AsyncSession | None = field(default=None, init=False)
    _conversation: Conversation | None = field(default=None, init=False)
    _context: ChatContext | None = field(default=None, init=False)
    _prompt_version: str = field(default="", init=False)

    async def begin(self) -> None:
        """Everything that can refuse the turn with a status: unknown refs, a foreign or busy
        conversation. Nothing is streamed before this succeeds."""
        # The turn's own session takes a pooled connection only when a tool first needs one;
        # the checks and the claim run in one short unit of work before that.
        session = await self._resources.enter_async_context(self.sessionmaker())
        self._session = session
        try:
            context = self._new_context(session)
            budget = chat_budget(self.settings, self.model_name, CHAT_TOOL_TOKENS)
            async with unit_of_work(self.sessionmaker) as claim_session:
                attachments = await render_attachments(
                    claim_session,
                    context,
                    self.request.context_refs,
                    budget.attachments(self.settings.context_token_budget),
                )
                conversation = await self._conversations(claim_session).start_turn(
                    self.user.id, self.request.conversation_id, self.request.message
                )
            context.system_prompt = self._system_prompt(attachments)
            context.history_token_budget = budget.history(
                self.settings.chat_history_token_budget, context.system_prompt
            )
            self._context = context
            self._conversation = conversation
        except BaseException:
            await self._resources.aclose()
            raise

    @property
    def conversation_id(self) -> uuid.UUID:
        """The turn's conversation (new or continued), known once `begin()` has succeeded."""
        assert self._conversation is not None
        return self._conversation.id

    async def events(self) -> AsyncGenerator[ChatEvent, None]:
        assert self._session is not None
        assert self._context is not None
        assert self._conversation is not None
        session, context, conversation = self._session, self._context, self._conversation
        try:
            yield ChatEvent("conversation", {"conversation_id": str(conversation.id)})
            async with self.runs.track(
                self.user.id, "chat", self.model_name, self._prompt_version, conversation.id
            ) as run:
                with provider_errors():
                    async for event in self._run_graph(context, conversation, run):
                        yield event
                reply = await self._finish(session, context, conversation, run)
            yield ChatEvent("reply", reply.model_dump(mode="json"))
        except BaseException:
            # Shielded: a closed stream cancels the turn, and the conversation must not stay
            # marked as running, nor the session hold its connection.
            with anyio.CancelScope(shield=True):
                await session.rollback()
                discard_queued_events(session)
                discard_deferred(session)
                await self._abandon(conversation)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._resources.aclose()

    async def reply(self) -> ChatReply:
        # Drained to the end, so the turn's session is closed here and not when collected.
        replies = [event.data async for event in self.events() if event.kind == "reply"]
        return ChatReply.model_validate(replies[-1])

    async def _abandon(self, conversation: Conversation) -> None:
        async with unit_of_work(self.sessionmaker) as release_session:
            deleted = await self._conversations(release_session).abandon_turn(
                self.user.id, conversation.id, keep_empty=self.keep_empty_conversation
            )
        checkpointer = self.graph.checkpointer
        # A kept empty conversation has no head either: its next turn would read these.
        no_head = deleted or conversation.head_checkpoint_id is None
        if no_head and isinstance(checkpointer, BaseCheckpointSaver):
            await checkpointer.adelete_thread(str(conversation.id))

    async def _prune(self, conversation_id: uuid.UUID) -> None:
        """Keep only the head checkpoint: each one holds the whole history, so keeping them all
        would grow storage with the square of the conversation's length, and turns only ever
        continue from the head. The head is the thread's newest checkpoint now (a failed turn's
        are newer only until the next turn succeeds). A failed prune costs space, not the turn."""
        checkpointer = self.graph.checkpointer
        if not isinstance(checkpointer, AsyncPostgresSaver):
            return
        try:
            await checkpointer.aprune([str(conversation_id)], strategy="keep_latest")
        except psycopg.Error:
            log.warning("checkpoint_prune_failed", conversation_id=str(conversation_id))

    def _new_context(self, session: AsyncSession) -> ChatContext:
        return ChatContext(
            user=self.user,
            session=session,
            embedding=self.embedding,
            request_text=self.request.message,
            model=self.model,
            system_prompt="",
            history_token_budget=self.settings.chat_history_token_budget,
            deadline=asyncio.get_running_loop().time() + self.settings.chat_turn_deadline_seconds,
            deadline_seconds=self.settings.chat_turn_deadline_seconds,
            first_step_tool_choice=self.settings.chat_first_step_tool_choice,
            reminder_timers=self.reminder_timers,
            plan_tracker=self.plan_tracker,
        )

    def _system_prompt(self, attachments: str) -> str:
        system = load_prompt("chat/system")
        refs = [system.ref]
        style = ""
        if self.request.voice:
            voice = load_prompt("chat/voice")
            style, refs = voice.text, [*refs, voice.ref]
        if attachments:
            refs.append(load_prompt("chat/attachments").ref)
        self._prompt_version = "+".join(refs)
        today = datetime.now(UTC).astimezone(ZoneInfo(self.user.timezone))
        return system.render(
            user_name=self.user.name or "the student",
            today=today.strftime("%A %Y-%m-%d %H:%M"),
            timezone=self.user.timezone,
            style=style,
            attachments=attachments,
        )

    def _conversations(self, session: AsyncSession) -> ConversationService:
        return ConversationService(session, timedelta(seconds=self.settings.chat_run_lease_seconds))

    def _config(self, conversation: Conversation, run: TrackedRun) -> RunnableConfig:
        configurable: dict[str, Any] = {"thread_id": str(conversation.id)}
        if conversation.head_checkpoint_id is not None:
            # Continue from the last completed turn, not from whatever a failed one left.
            configurable["checkpoint_id"] = conversation.head_checkpoint_id
        return {
            "configurable": configurable,
            "callbacks": run.callbacks,
            "recursion_limit": RECURSION_LIMIT,
        }

    async def _run_graph(
        self, context: ChatContext, conversation: Conversation, run: TrackedRun
    ) -> AsyncIterator[ChatEvent]:
        turn_input: MessagesState = {"messages": [HumanMessage(self.request.message)]}
        try:
            async for mode, chunk in self.graph.astream(
                turn_input,
                self._config(conversation, run),
                context=context,
                stream_mode=STREAM_MODES,
                durability=DURABILITY,
            ):
                for event in _events_from(mode, chunk):
                    yield event
        except GraphRecursionError as exc:
            raise LLMProviderError(
                "The model kept calling tools without answering.",
                {"max_model_steps": MAX_MODEL_STEPS},
            ) from exc

    async def _finish(
        self,
        session: AsyncSession,
        context: ChatContext,
        conversation: Conversation,
        run: TrackedRun,
    ) -> ChatReply:
        snapshot = await self.graph.aget_state(
            {"configurable": {"thread_id": str(conversation.id)}}
        )
        messages: list[BaseMessage] = snapshot.values["messages"]
        turn = messages[current_turn_start(messages) :]
        answer = turn[-1]
        if not isinstance(answer, AIMessage) or answer.tool_calls:
            raise LLMProviderError("The model ended its turn without an answer.")
        run.tool_calls = _tool_calls(turn)
        head = snapshot.config["configurable"]["checkpoint_id"]
        await self._conversations(session).finish_turn(conversation, head)
        await session.commit()
        # What the tools queued (progress recorded, ...) is announced once it is committed, and
        # the workflows they asked for (a reminder's, a plan's signal) are started then too.
        await publish_queued_events(session)
        await run_deferred(session)
        await self._prune(conversation.id)
        text = answer.text
        return ChatReply.model_validate(
            {
                "conversation_id": conversation.id,
                "message": text,
                "tool_calls": run.tool_calls,
                "citations": _citations(text, context.sources),
                "changes": context.changes,
                "run_id": run.id,
            }
        )


def _events_from(mode: str, chunk: Any) -> list[ChatEvent]:
    if mode == "messages":
        message, metadata = chunk
        if (
            isinstance(message, AIMessageChunk)
            and metadata.get("langgraph_node") == "agent"
            and message.text
        ):
            return [ChatEvent("token", {"text": message.text})]
        return []
    events: list[ChatEvent] = []
    for node, update in chunk.items():
        for message in (update or {}).get("messages", []):
            if node == "agent" and isinstance(message, AIMessage):
                events.extend(
                    ChatEvent("tool_call", {"name": call["name"], "args": call["args"]})
                    for call in message.tool_calls
                )
            elif node == "tools" and isinstance(message, ToolMessage):
                events.append(
                    ChatEvent("tool_result", {"name": message.name, "ok": _tool_ok(message)})
                )
    return events


def _tool_ok(message: ToolMessage) -> bool:
    return message.status != "error" and not message.text.startswith("Error:")


def _tool_calls(turn: list[BaseMessage]) -> list[dict[str, Any]]:
    results = {m.tool_call_id: _tool_ok(m) for m in turn if isinstance(m, ToolMessage)}
    return [
        {"name": call["name"], "args": call["args"], "ok": results.get(call["id"] or "", False)}
        for message in turn
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    ]


def _citations(text: str, sources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Refs the answer cites that the turn actually showed the model; invented ones drop."""
    cited: dict[str, dict[str, Any]] = {}
    for kind, raw_id, fragment in _CITATION.findall(text):
        key = f"{kind}:{raw_id.lower()}{fragment}"
        if key in sources:
            cited.setdefault(key, sources[key])
    return list(cited.values())
