"""Participant tokens: one room, the student's own identity, microphone and data only.

The voice agent is dispatched by the token itself (`RoomConfiguration.agents`): when the student
joins, LiveKit creates the room and sends the named agent a job with our metadata. No call to
LiveKit's API is needed before the student connects, so minting works without a reachable
server and the API never waits on one.
"""

from datetime import timedelta

from voice.dispatch import DispatchMetadata
from voice.settings import LiveKitSettings

# What a student may publish: their voice, and data (e.g. text input in the same room).
PUBLISH_SOURCES = ["microphone"]
DEPARTURE_TIMEOUT_SECONDS = 20
EMPTY_TIMEOUT_SECONDS = 120


def participant_token(
    livekit: LiveKitSettings,
    *,
    room: str,
    identity: str,
    name: str,
    agent_name: str,
    metadata: DispatchMetadata,
    ttl: timedelta,
) -> str:
    # Imported on first use: LiveKit's protobuf modules add seconds to every API start-up.
    from livekit.api import AccessToken, VideoGrants
    from livekit.protocol.agent_dispatch import RoomAgentDispatch
    from livekit.protocol.room import RoomConfiguration

    grants = VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_publish_sources=PUBLISH_SOURCES,
        can_publish_data=True,
        can_subscribe=True,
        can_update_own_metadata=False,
    )
    config = RoomConfiguration(
        name=room,
        # The room closes soon after the student leaves, so LiveKit reports its end.
        departure_timeout=DEPARTURE_TIMEOUT_SECONDS,
        empty_timeout=EMPTY_TIMEOUT_SECONDS,
        agents=[RoomAgentDispatch(agent_name=agent_name, metadata=metadata.model_dump_json())],
    )
    return (
        AccessToken(livekit.api_key, livekit.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(grants)
        .with_room_config(config)
        .with_ttl(ttl)
        .to_jwt()
    )
