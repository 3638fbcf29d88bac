import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

from core.schemas import StrictModel
from domain.schedule.schemas import SupportedDatetime, storable_text

ReminderChannel = Literal["in_app"]
ReminderStatus = Literal["pending", "sent", "cancelled"]


Message = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    AfterValidator(storable_text),
]


class ReminderCreate(StrictModel):
    """A reminder about a schedule block, a goal, or nothing in particular (not both)."""

    remind_at: SupportedDatetime
    message: Message
    schedule_block_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    channel: ReminderChannel = "in_app"

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if self.schedule_block_id is not None and self.goal_id is not None:
            raise ValueError("give schedule_block_id or goal_id, not both")
        return self


class ReminderUpdate(StrictModel):
    """Move a pending reminder or change what it says; absent fields stay as they are."""

    remind_at: SupportedDatetime | None = None
    message: Message | None = None


DeliveryOutcome = Literal["delivered", "already_done", "not_due", "missing"]


class DeliveryResult(BaseModel):
    """What one delivery attempt found. `not_due`: the reminder was moved later than the timer
    that fired knew; `remind_at` says when it is due now."""

    outcome: DeliveryOutcome
    remind_at: datetime | None = None


class ReminderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    remind_at: datetime
    message: str
    schedule_block_id: uuid.UUID | None
    goal_id: uuid.UUID | None
    channel: ReminderChannel
    status: ReminderStatus
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
