"""LiveKit webhooks: the signature (a JWT over the raw body's SHA-256, signed with our API
secret) is checked by livekit-api's `WebhookReceiver` before anything is read from the body."""

from datetime import UTC, datetime

from core.errors import UnauthorizedError
from domain.voice.service import WebhookFacts
from voice.settings import LiveKitSettings


class InvalidWebhookError(UnauthorizedError):
    code = "invalid_webhook"


def verify_webhook(
    livekit: LiveKitSettings, body: bytes, authorization: str | None
) -> WebhookFacts:
    if not authorization:
        raise InvalidWebhookError("The webhook is not signed.")
    token = authorization.removeprefix("Bearer ").strip()
    # Imported on first use: LiveKit's protobuf modules add seconds to every API start-up.
    from livekit.api import TokenVerifier, WebhookReceiver

    receiver = WebhookReceiver(TokenVerifier(livekit.api_key, livekit.api_secret))
    try:
        event = receiver.receive(body.decode("utf-8"), token)
    # The receiver signals every failure (bad signature, expired token, hash mismatch,
    # unparsable body) with a plain Exception; all of them mean "not from our server".
    except Exception as exc:
        raise InvalidWebhookError("The webhook signature does not match its body.") from exc
    if not event.id or not event.event:
        raise InvalidWebhookError("The webhook names no event.")
    return WebhookFacts(
        event_id=event.id,
        event=event.event,
        room=event.room.name or None if event.HasField("room") else None,
        participant_identity=(
            event.participant.identity or None if event.HasField("participant") else None
        ),
        created_at=datetime.fromtimestamp(event.created_at, UTC),
    )
