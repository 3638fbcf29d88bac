"""The LiveKit settings voice needs, or 503 voice_not_configured naming them."""

from dataclasses import dataclass

from core.config import Settings
from core.errors import AppError

LIVEKIT_SETTINGS = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"]


class VoiceNotConfiguredError(AppError):
    status_code = 503
    code = "voice_not_configured"


@dataclass(frozen=True)
class LiveKitSettings:
    url: str
    api_key: str
    api_secret: str


def livekit_settings(settings: Settings) -> LiveKitSettings:
    if (
        settings.livekit_url is None
        or settings.livekit_api_key is None
        or settings.livekit_api_secret is None
    ):
        raise VoiceNotConfiguredError(
            "Voice needs a LiveKit server: set LIVEKIT_URL, LIVEKIT_API_KEY and "
            "LIVEKIT_API_SECRET.",
            {"settings": LIVEKIT_SETTINGS},
        )
    return LiveKitSettings(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret.get_secret_value(),
    )
