import uuid
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.goals.models import Goal
from domain.reminders.models import Reminder
from domain.schedule.models import ScheduleBlock


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(
        self, user_id: uuid.UUID, reminder_id: uuid.UUID, *, for_update: bool = False
    ) -> Reminder | None:
        statement = select(Reminder).where(Reminder.id == reminder_id, Reminder.user_id == user_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def get(self, reminder_id: uuid.UUID, *, for_update: bool = False) -> Reminder | None:
        """Whoever owns it: for the delivery, which acts for the owner."""
        statement = select(Reminder).where(Reminder.id == reminder_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def pending(self) -> list[tuple[uuid.UUID, datetime]]:
        statement = select(Reminder.id, Reminder.remind_at).where(Reminder.status == "pending")
        return [(row.id, row.remind_at) for row in await self.session.execute(statement)]

    async def page(
        self, user_id: uuid.UUID, status: str | None, params: PageParams
    ) -> tuple[list[Reminder], str | None]:
        statement = select(Reminder).where(Reminder.user_id == user_id)
        if status is not None:
            statement = statement.where(Reminder.status == status)
        return await paginate(self.session, statement, (Reminder.created_at, Reminder.id), params)

    async def add(self, reminder: Reminder) -> Reminder:
        self.session.add(reminder)
        await self.session.flush()
        return reminder

    async def block_owned_by(self, user_id: uuid.UUID, block_id: uuid.UUID) -> bool:
        statement = select(
            exists().where(ScheduleBlock.id == block_id, ScheduleBlock.user_id == user_id)
        )
        return bool(await self.session.scalar(statement))

    async def goal_owned_by(self, user_id: uuid.UUID, goal_id: uuid.UUID) -> bool:
        statement = select(exists().where(Goal.id == goal_id, Goal.user_id == user_id))
        return bool(await self.session.scalar(statement))
