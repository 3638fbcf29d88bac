"""Inputs of the reminder workflow and its activity (pydantic, through the data converter)."""

import uuid
from datetime import datetime

from pydantic import BaseModel


def workflow_id(reminder_id: uuid.UUID) -> str:
    return f"reminder-{reminder_id}"


class ReminderTimer(BaseModel):
    reminder_id: uuid.UUID
    remind_at: datetime


class ReminderMove(BaseModel):
    remind_at: datetime


class DeliverReminder(BaseModel):
    reminder_id: uuid.UUID
