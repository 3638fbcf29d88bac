"""Reminder rules: create, read, list and delete the caller's reminders.

Delivery is not done here: a reminder stays `pending` until the delivery workflow sends it.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFoundError
from core.pagination import Page, PageParams
from domain.reminders.models import Reminder
from domain.reminders.repository import ReminderRepository
from domain.reminders.schemas import ReminderCreate, ReminderRead, ReminderStatus
from domain.users.models import User


class ReminderService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.reminders = ReminderRepository(session)

    async def create(self, user: User, data: ReminderCreate) -> ReminderRead:
        if data.schedule_block_id is not None and not await self.reminders.block_owned_by(
            user.id, data.schedule_block_id
        ):
            raise NotFoundError("Schedule block not found.")
        if data.goal_id is not None and not await self.reminders.goal_owned_by(
            user.id, data.goal_id
        ):
            raise NotFoundError("Goal not found.")
        reminder = Reminder(
            user_id=user.id,
            remind_at=data.remind_at,
            message=data.message,
            schedule_block_id=data.schedule_block_id,
            goal_id=data.goal_id,
            channel=data.channel,
            status="pending",
        )
        await self.reminders.add(reminder)
        await self.session.refresh(reminder)
        return ReminderRead.model_validate(reminder)

    async def _owned(self, user: User, reminder_id: uuid.UUID) -> Reminder:
        reminder = await self.reminders.get_owned(user.id, reminder_id)
        if reminder is None:
            raise NotFoundError("Reminder not found.")
        return reminder

    async def get(self, user: User, reminder_id: uuid.UUID) -> ReminderRead:
        return ReminderRead.model_validate(await self._owned(user, reminder_id))

    async def page(
        self, user: User, params: PageParams, status: ReminderStatus | None = None
    ) -> Page[ReminderRead]:
        """Newest first."""
        rows, next_cursor = await self.reminders.page(user.id, status, params)
        return Page[ReminderRead](
            items=[ReminderRead.model_validate(row) for row in rows], next_cursor=next_cursor
        )

    async def delete(self, user: User, reminder_id: uuid.UUID) -> None:
        await self.reminders.delete(await self._owned(user, reminder_id))
