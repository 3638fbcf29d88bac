"""Spoken utterances as chat turns: the same `ChatTurn` the REST and SSE routes drive, on the
voice session's conversation, one at a time.

Barge-in policy: when the student interrupts, speech stops at once but the turn is finished in
the background and kept whole (its tool writes, its answer in the thread, its `agent_runs`
record). Rolling it back instead would undo changes the student may already have heard
confirmed. The next utterance waits for that turn to finish before it claims the conversation,
so the thread stays one clean sequence; what was actually heard is in the transcript, marked
interrupted.
"""

import asyncio
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import structlog

from agents.chat.turn import ChatTurn
from agents.llm import model_label
from agents.runs import AgentRuns
from core.errors import AppError, RateLimitedError, RunInProgressError
from domain.conversations.schemas import ChatRequest, ContextRefs
from domain.users.models import User
from voice.runtime import VoiceRuntime

log = structlog.get_logger(__name__)

# A text turn in the same conversation (another tab) is waited for, briefly.
CLAIM_RETRY_SECONDS = 0.5
CLAIM_WAIT_SECONDS = 20.0
BUSY_REPLY = "I'm still finishing another answer in this conversation. Ask me again in a moment."
LIMITED_REPLY = "You've reached your study assistant limit for now. Let's continue a bit later."
FAILED_REPLY = "Sorry, I couldn't answer that just now. Please try again."
_DONE = object()


@dataclass
class VoiceTurns:
    runtime: VoiceRuntime
    user: User
    conversation_id: uuid.UUID
    context_refs: ContextRefs | None
    # Held by a running turn and by transcript writes: one writer to the conversation at a
    # time, so transcript lines land after the turn they belong to.
    writing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _current: asyncio.Task[None] | None = field(default=None, init=False)

    async def answer(self, utterance: str) -> AsyncGenerator[str, None]:
        """The answer's text as the model writes it; nothing from tool calls or results."""
        await self.settled()
        tokens: asyncio.Queue[object] = asyncio.Queue()
        # Its own task, so cancelling the speech (barge-in) does not cancel the turn.
        self._current = asyncio.create_task(self._drive(utterance, tokens))
        while (item := await tokens.get()) is not _DONE:
            assert isinstance(item, str)
            yield item

    async def settled(self) -> None:
        """Wait for the turn in flight, if any (an interrupted one finishing in the background)."""
        if self._current is not None:
            await asyncio.shield(self._current)

    async def _drive(self, utterance: str, tokens: asyncio.Queue[object]) -> None:
        try:
            async with self.writing:
                await self._run_turn(utterance, tokens)
        finally:
            tokens.put_nowait(_DONE)

    async def _run_turn(self, utterance: str, tokens: asyncio.Queue[object]) -> None:
        runs = AgentRuns(
            self.runtime.settings, self.runtime.sessionmaker, self.runtime.rate_limiter
        )
        try:
            # Each utterance is an AI call like any other: the same per-user limits apply.
            await runs.admit(self.user.id)
            turn = await self._claimed_turn(utterance, runs)
            if turn is None:
                tokens.put_nowait(BUSY_REPLY)
                return
            async for event in turn.events():
                if event.kind == "token":
                    tokens.put_nowait(event.data["text"])
        except RateLimitedError:
            tokens.put_nowait(LIMITED_REPLY)
        except AppError as exc:
            # Rolled back by the turn itself; the student hears an apology, not a status.
            log.warning(
                "voice_turn_failed", code=exc.code, conversation_id=str(self.conversation_id)
            )
            tokens.put_nowait(FAILED_REPLY)
        except Exception:
            log.exception("voice_turn_failed", conversation_id=str(self.conversation_id))
            tokens.put_nowait(FAILED_REPLY)

    async def _claimed_turn(self, utterance: str, runs: AgentRuns) -> ChatTurn | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLAIM_WAIT_SECONDS
        while True:
            turn = self._turn(utterance, runs)
            try:
                await turn.begin()
                return turn
            except RunInProgressError:
                if loop.time() >= deadline:
                    return None
                await asyncio.sleep(CLAIM_RETRY_SECONDS)

    def _turn(self, utterance: str, runs: AgentRuns) -> ChatTurn:
        settings = self.runtime.settings
        model = self.runtime.models.for_task("chat")
        return ChatTurn(
            graph=self.runtime.graph,
            model=model,
            model_name=model_label(model),
            runs=runs,
            sessionmaker=self.runtime.sessionmaker,
            embedding=self.runtime.embedding,
            settings=settings,
            user=self.user,
            request=ChatRequest(
                message=utterance,
                conversation_id=self.conversation_id,
                context_refs=self.context_refs,
                voice=True,
            ),
            keep_empty_conversation=True,
        )
