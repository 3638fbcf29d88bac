import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.goals.models import Goal
from domain.reminders.models import Reminder
from domain.schedule.models import ScheduleBlock


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(self, user_id: uuid.UUID, reminder_id: uuid.UUID) -> Reminder | None:
        statement = select(Reminder).where(Reminder.id == reminder_id, Reminder.user_id == user_id)
        return (await self.session.scalars(statement)).one_or_none()

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

    async def delete(self, reminder: Reminder) -> None:
        await self.session.delete(reminder)
        await self.session.flush()

    async def block_owned_by(self, user_id: uuid.UUID, block_id: uuid.UUID) -> bool:
        statement = select(
            exists().where(ScheduleBlock.id == block_id, ScheduleBlock.user_id == user_id)
        )
        return bool(await self.session.scalar(statement))

    async def goal_owned_by(self, user_id: uuid.UUID, goal_id: uuid.UUID) -> bool:
        statement = select(exists().where(Goal.id == goal_id, Goal.user_id == user_id))
        return bool(await self.session.scalar(statement))
