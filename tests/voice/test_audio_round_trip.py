"""One real audio round trip with the offline speech engines, no LiveKit server: a spoken
question synthesised by the local TTS goes in as microphone frames, through Silero VAD,
Whisper tiny.en, the chat turn (scripted model) and Piper, and comes out as audio frames.

Slow (models load in seconds on a CPU). The end-of-speech to first-audio figure is printed for
bench/RESULTS.md, never asserted."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI
from livekit import rtc
from livekit.agents.metrics import STTMetrics, TTSMetrics
from livekit.agents.voice import io
from livekit.plugins import silero
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.voice.models import VoiceTranscriptLine
from tests.fixtures.factories.users import create_user
from tests.fixtures.llm import scripted
from tests.voice.test_voice_agent import _runtime, _thread, _voice_job
from voice.agent import StudyPilotVoiceAgent
from voice.jobs import TranscriptRecorder
from voice.local_speech import LocalTTS, WhisperSTT
from voice.speech import Speech
from voice.turns import VoiceTurns
from voice.worker import new_session, record_transcript

QUESTION = "What is the water cycle?"
ANSWER = "The water cycle moves water between the sea, the air and the land. The sun drives it."
FRAME_MS = 20
SILENCE_AFTER_SECONDS = 8.0


class Microphone(io.AudioInput):
    """Plays prepared frames in real time, then silence, like a student who stops talking."""

    def __init__(self, speech: list[rtc.AudioFrame], sample_rate: int) -> None:
        super().__init__(label="test microphone")
        self._frames = speech
        self._rate = sample_rate
        self.end_of_speech: float | None = None
        self._source = self._play()

    async def _play(self) -> AsyncIterator[rtc.AudioFrame]:
        for frame in self._frames:
            await asyncio.sleep(frame.duration)
            yield frame
        self.end_of_speech = time.perf_counter()
        silence = _silence(self._rate)
        for _ in range(int(SILENCE_AFTER_SECONDS * 1000 / FRAME_MS)):
            await asyncio.sleep(silence.duration)
            yield silence

    async def __anext__(self) -> rtc.AudioFrame:
        return await self._source.__anext__()


class Speaker(io.AudioOutput):
    """Keeps what the agent says and plays it out instantly."""

    def __init__(self) -> None:
        super().__init__(label="test speaker", capabilities=io.AudioOutputCapabilities(pause=False))
        self.frames: list[rtc.AudioFrame] = []
        self.first_audio: float | None = None
        self._pushed = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self.first_audio is None:
            self.first_audio = time.perf_counter()
            self.on_playback_started(created_at=time.time())
        self.frames.append(frame)
        self._pushed += frame.duration

    def flush(self) -> None:
        super().flush()
        self.on_playback_finished(playback_position=self._pushed, interrupted=False)
        self._pushed = 0.0

    def clear_buffer(self) -> None:
        pass


def _silence(rate: int) -> rtc.AudioFrame:
    samples = rate * FRAME_MS // 1000
    return rtc.AudioFrame(bytes(samples * 2), rate, 1, samples)


def _frames(pcm: bytes, rate: int) -> list[rtc.AudioFrame]:
    samples = rate * FRAME_MS // 1000
    step = samples * 2
    padded = pcm + bytes(-len(pcm) % step)
    return [
        rtc.AudioFrame(padded[i : i + step], rate, 1, samples) for i in range(0, len(padded), step)
    ]


async def test_spoken_question_is_transcribed_answered_and_spoken(
    voice_app: FastAPI, voice_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    tts = LocalTTS()
    speech = Speech(stt=WhisperSTT(), tts=tts, vad=silero.VAD.load())
    question = await tts.synthesise(QUESTION)
    # A second of quiet before the question, as when a microphone opens.
    lead_in = _frames(bytes(question.sample_rate * 2), question.sample_rate)
    microphone = Microphone(
        lead_in + _frames(question.pcm, question.sample_rate), question.sample_rate
    )
    speaker = Speaker()
    stages: list[Any] = []

    user = await create_user(db_session)
    voice_app.state.chat_models.with_model("chat", scripted(ANSWER))
    job, created = await _voice_job(voice_app, voice_client, codec, user)
    runtime = _runtime(voice_app)
    turns = VoiceTurns(runtime, job.user, job.conversation_id, job.context_refs)
    recorder = TranscriptRecorder(runtime, job.voice_session_id, turns.writing)
    async with new_session(speech) as session:
        record_transcript(session, recorder)
        session.on("metrics_collected", lambda event: stages.append(event.metrics))
        answered = asyncio.Event()
        session.on(
            "conversation_item_added",
            lambda event: (
                answered.set() if getattr(event.item, "role", "") == "assistant" else None
            ),
        )
        session.input.audio = microphone
        session.output.audio = speaker
        await session.start(StudyPilotVoiceAgent(turns))
        # The answer is in the chat context once it has been spoken out.
        async with asyncio.timeout(120):
            await answered.wait()
    await turns.settled()
    await recorder.drain()

    thread = await _thread(voice_app, created["conversation_id"])
    heard = thread[0].text.lower()
    assert "water" in heard
    assert "cycle" in heard
    assert thread[1].text == ANSWER
    # Audio came out: the answer, at the TTS's rate, with sound in it.
    assert speaker.frames
    pcm = np.frombuffer(b"".join(bytes(f.data) for f in speaker.frames), dtype=np.int16)
    assert pcm.size / speaker.frames[0].sample_rate > 1.0
    assert np.abs(pcm).max() > 1000
    lines = (await db_session.scalars(select(VoiceTranscriptLine))).all()
    assert [line.role for line in sorted(lines, key=lambda line: line.created_at)] == [
        "user",
        "assistant",
    ]
    assert microphone.end_of_speech is not None
    assert speaker.first_audio is not None
    latency = speaker.first_audio - microphone.end_of_speech
    stt = next(m.duration for m in stages if isinstance(m, STTMetrics))
    tts_first = next(m.ttfb for m in stages if isinstance(m, TTSMetrics))
    print(
        f"\nend of speech -> first agent audio: {latency:.2f} s "
        f"(speech-to-text {stt:.2f} s, first sentence synthesised in {tts_first:.2f} s)"
    )
