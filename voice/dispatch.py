"""What the API tells the voice worker about a room, carried in the participant token's room
configuration (`RoomAgentDispatch.metadata`). The token is signed with our API secret, so the
student cannot change it; the worker still checks it against the voice session row."""

import uuid

from pydantic import BaseModel


class DispatchMetadata(BaseModel):
    voice_session_id: uuid.UUID
    conversation_id: uuid.UUID
    user_id: uuid.UUID
