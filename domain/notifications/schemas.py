import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

NotificationKind = Literal["reminder", "plan", "morning_agenda", "weekly_review"]


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: NotificationKind
    title: str
    body: str
    data: dict[str, Any]
    reminder_id: uuid.UUID | None
    read_at: datetime | None
    created_at: datetime


class ReadAllResult(BaseModel):
    marked_read: int
