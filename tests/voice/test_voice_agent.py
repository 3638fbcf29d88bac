"""The voice agent in-process: LiveKit's AgentSession with text input (no room, no speech)
around the real chat graph, Postgres checkpointer and a scripted model."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from livekit.agents import AgentSession
from livekit.agents.voice.run_result import ChatMessageEvent, RunResult
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.conversations.models import Conversation
from domain.embeddings.runtime import EmbeddingRuntime
from domain.users.models import User
from domain.voice.models import VoiceTranscriptLine
from domain.voice.service import VoiceJobRefusedError
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import ScriptedChatModel, scripted, tool_call
from voice.agent import StudyPilotVoiceAgent
from voice.dispatch import DispatchMetadata
from voice.jobs import TranscriptRecorder, VoiceJob, authorise_job
from voice.runtime import VoiceRuntime
from voice.turns import FAILED_REPLY, VoiceTurns
from voice.worker import new_session, record_transcript


def _runtime(app: FastAPI) -> VoiceRuntime:
    state = app.state
    return VoiceRuntime(
        settings=state.settings,
        sessionmaker=state.sessionmaker,
        graph=state.chat_agent,
        models=state.chat_models,
        rate_limiter=state.rate_limiter,
        embedding=EmbeddingRuntime(state.embedder, state.embedding_model_id),
    )


async def _voice_job(
    app: FastAPI, client: httpx.AsyncClient, codec: TokenCodec, user: User, **body: Any
) -> tuple[VoiceJob, dict[str, Any]]:
    response = await client.post("/ai/voice-session", headers=auth_headers(codec, user), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    metadata = DispatchMetadata(
        voice_session_id=created["voice_session_id"],
        conversation_id=created["conversation_id"],
        user_id=user.id,
    ).model_dump_json()
    return await authorise_job(_runtime(app), metadata, created["room"]), created


async def _speak(app: FastAPI, job: VoiceJob, *utterances: str) -> list[RunResult[None]]:
    runtime = _runtime(app)
    turns = VoiceTurns(runtime, job.user, job.conversation_id, job.context_refs)
    recorder = TranscriptRecorder(runtime, job.voice_session_id, turns.writing)
    results: list[RunResult[None]] = []
    async with new_session(None) as session:
        record_transcript(session, recorder)
        await session.start(StudyPilotVoiceAgent(turns))
        for utterance in utterances:
            results.append(await session.run(user_input=utterance))
    await turns.settled()
    await recorder.drain()
    return results


def _spoken(result: RunResult[None]) -> str:
    [message] = [e.item for e in result.events if isinstance(e, ChatMessageEvent)]
    return message.text_content or ""


async def _thread(app: FastAPI, conversation_id: str) -> list[BaseMessage]:
    snapshot = await app.state.chat_agent.aget_state(
        {"configurable": {"thread_id": conversation_id}}
    )
    messages: list[BaseMessage] = snapshot.values["messages"]
    return messages


async def test_a_text_turn_then_a_voice_turn_share_one_thread(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    model = scripted("Citrate comes first.", "Then isocitrate, spoken.")
    voice_app.state.chat_models.with_model("chat", model)
    headers = auth_headers(codec, user)
    text = await voice_client.post("/ai/chat", headers=headers, json={"message": "What is first?"})
    conversation_id = text.json()["conversation_id"]
    job, _ = await _voice_job(voice_app, voice_client, codec, user, conversation_id=conversation_id)

    [result] = await _speak(voice_app, job, "And what comes next")

    result.expect.next_event().is_message(role="assistant")
    assert _spoken(result) == "Then isocitrate, spoken."
    # Only the new utterance reached the model, after the thread's own history: no duplicates.
    assert [m.type for m in model.received[-1]] == ["system", "human", "ai", "human"]
    assert model.received[-1][-1].content == "And what comes next"
    # The voice prompt was used for the spoken turn.
    assert "read aloud" in str(model.received[-1][0].content)
    thread = await _thread(voice_app, conversation_id)
    assert [(m.type, m.text) for m in thread] == [
        ("human", "What is first?"),
        ("ai", "Citrate comes first."),
        ("human", "And what comes next"),
        ("ai", "Then isocitrate, spoken."),
    ]
    detail = (
        await voice_client.get(f"/ai/conversations/{conversation_id}", headers=headers)
    ).json()
    assert detail["turn_count"] == 2
    assert [
        (line["role"], line["text"], line["interrupted"])
        for line in detail["voice_sessions"][0]["transcript"]
    ] == [
        ("user", "And what comes next", False),
        ("assistant", "Then isocitrate, spoken.", False),
    ]


async def test_a_tool_using_turn_speaks_only_the_answer_without_refs(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    ref = f"[note:{uuid.uuid4()}]"
    model = scripted(tool_call("list_goals"), f"You have no goals yet {ref}. Shall we add one?")
    voice_app.state.chat_models.with_model("chat", model)
    job, created = await _voice_job(voice_app, voice_client, codec, user)

    [result] = await _speak(voice_app, job, "How am I doing")

    result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()
    assert _spoken(result) == "You have no goals yet. Shall we add one?"
    thread = await _thread(voice_app, created["conversation_id"])
    # The tool ran inside the chat turn and stays in the thread; it was never spoken.
    assert [m.type for m in thread] == ["human", "ai", "tool", "ai"]


class _SlowModel(ScriptedChatModel):
    """Streams word by word with a pause, so speech can be interrupted mid-answer."""

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            await asyncio.sleep(0.05)
            yield chunk

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        return self._stream(messages)


async def test_barge_in_stops_speech_and_the_turn_finishes_whole(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    long_answer = "One two three four five six seven eight nine ten eleven twelve."
    model = _SlowModel(messages=iter([long_answer, "Short answer."]), received=[])
    voice_app.state.chat_models.with_model("chat", model)
    job, created = await _voice_job(voice_app, voice_client, codec, user)
    turns = VoiceTurns(_runtime(voice_app), job.user, job.conversation_id, job.context_refs)

    # The speech side reads a few words, then the student talks over it: the reader is gone.
    heard = []
    answer = turns.answer("Count for me")
    async for text in answer:
        heard.append(text)
        if len(heard) == 3:
            break
    await answer.aclose()
    assert "".join(heard) != long_answer

    # The interrupted turn is finished in the background and kept whole; the next one waits.
    rest = [text async for text in turns.answer("Now something short")]
    assert "".join(rest) == "Short answer."
    thread = await _thread(voice_app, created["conversation_id"])
    assert [(m.type, m.text) for m in thread] == [
        ("human", "Count for me"),
        ("ai", long_answer),
        ("human", "Now something short"),
        ("ai", "Short answer."),
    ]
    conversation = await db_session.get(Conversation, job.conversation_id)
    assert conversation is not None
    await db_session.refresh(conversation)
    assert conversation.turn_count == 2
    assert conversation.running_since is None


async def test_an_interrupted_answer_is_marked_in_the_transcript(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    model = _SlowModel(messages=iter(["word " * 40]), received=[])
    voice_app.state.chat_models.with_model("chat", model)
    job, created = await _voice_job(voice_app, voice_client, codec, user)
    runtime = _runtime(voice_app)
    turns = VoiceTurns(runtime, job.user, job.conversation_id, job.context_refs)
    recorder = TranscriptRecorder(runtime, job.voice_session_id, turns.writing)
    session: AgentSession[None]
    async with new_session(None) as session:
        record_transcript(session, recorder)
        await session.start(StudyPilotVoiceAgent(turns))
        handle = session.generate_reply(user_input="Say many words")
        await asyncio.sleep(0.5)
        await handle.interrupt(force=True)
        await handle.wait_for_playout()
    await turns.settled()
    await recorder.drain()

    lines = (
        await db_session.scalars(
            select(VoiceTranscriptLine).order_by(VoiceTranscriptLine.created_at)
        )
    ).all()
    assert [(line.role, line.interrupted) for line in lines] == [
        ("user", False),
        ("assistant", True),
    ]
    assert len(lines[1].text.split()) < 40
    thread = await _thread(voice_app, created["conversation_id"])
    assert thread[-1].text.split() == ["word"] * 40


async def test_another_users_ids_in_the_metadata_are_refused(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner = await create_user(db_session)
    intruder = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted())
    _, created = await _voice_job(voice_app, voice_client, codec, owner)
    _, theirs = await _voice_job(voice_app, voice_client, codec, intruder)
    runtime = _runtime(voice_app)
    genuine = {
        "voice_session_id": created["voice_session_id"],
        "conversation_id": created["conversation_id"],
        "user_id": str(owner.id),
    }
    forged = [
        {**genuine, "user_id": str(intruder.id)},
        {**genuine, "conversation_id": theirs["conversation_id"]},
        {**genuine, "voice_session_id": theirs["voice_session_id"]},
    ]
    for forgery in forged:
        with pytest.raises(VoiceJobRefusedError):
            await authorise_job(runtime, json.dumps(forgery), created["room"])
    # The genuine metadata in another room, and no metadata at all, are refused too.
    for metadata, room in ((json.dumps(genuine), theirs["room"]), ("", created["room"])):
        with pytest.raises(VoiceJobRefusedError):
            await authorise_job(runtime, metadata, room)
    job = await authorise_job(runtime, json.dumps(genuine), created["room"])
    assert job.user.id == owner.id


async def test_a_failed_first_voice_turn_keeps_the_conversation_and_leaves_no_trace(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    # A model with nothing to say fails the turn with an unexpected error.
    voice_app.state.chat_models.with_model("chat", scripted())
    job, created = await _voice_job(voice_app, voice_client, codec, user)
    turns = VoiceTurns(_runtime(voice_app), job.user, job.conversation_id, job.context_refs)

    failed = [text async for text in turns.answer("First try")]
    assert failed == [FAILED_REPLY]
    # The conversation the voice session points at is kept, released, and holds nothing.
    conversation = await db_session.get(Conversation, job.conversation_id)
    assert conversation is not None
    await db_session.refresh(conversation)
    assert (conversation.turn_count, conversation.running_since) == (0, None)

    voice_app.state.chat_models.with_model("chat", scripted("Second time lucky."))
    answered = [text async for text in turns.answer("Second try")]
    assert "".join(answered) == "Second time lucky."
    thread = await _thread(voice_app, created["conversation_id"])
    assert [(m.type, m.text) for m in thread] == [
        ("human", "Second try"),
        ("ai", "Second time lucky."),
    ]
