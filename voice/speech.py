"""Speech providers behind settings: `local` (offline, CPU) or any OpenAI-compatible server
(`/audio/transcriptions`, `/audio/speech`). Voice activity detection is Silero's, bundled with
livekit-plugins-silero (MIT model, Apache-2.0 plugin)."""

from dataclasses import dataclass

import openai
from livekit.agents import stt, tts, vad
from livekit.plugins import openai as livekit_openai
from livekit.plugins import silero

from core.config import Settings


@dataclass(frozen=True)
class Speech:
    stt: stt.STT[None]
    tts: tts.TTS[None]
    vad: vad.VAD


def load_speech(settings: Settings) -> Speech:
    """Loads models (seconds on a CPU): call once per worker process, not per room."""
    return Speech(stt=_stt(settings), tts=_tts(settings), vad=silero.VAD.load())


def _openai_client(settings: Settings) -> openai.AsyncClient:
    # A local server takes no key, but the client insists on one.
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return openai.AsyncClient(
        api_key=key,
        base_url=settings.voice_speech_base_url or settings.openai_base_url,
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout_seconds,
    )


def _stt(settings: Settings) -> stt.STT[None]:
    if settings.voice_stt_provider == "openai":
        return livekit_openai.STT(
            model=settings.voice_stt_model,
            language="en",
            use_realtime=False,
            client=_openai_client(settings),
        )
    from voice.local_speech import WhisperSTT

    return WhisperSTT()


def _tts(settings: Settings) -> tts.TTS[None]:
    if settings.voice_tts_provider == "openai":
        return livekit_openai.TTS(
            model=settings.voice_tts_model,
            voice=settings.voice_tts_voice,
            client=_openai_client(settings),
        )
    from voice.local_speech import LocalTTS

    return LocalTTS()
