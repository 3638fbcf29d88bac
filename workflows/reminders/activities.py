"""The delivery activity: a thin adapter over `ReminderService.deliver`, in its own unit of work.

Temporal runs an activity at least once (a worker killed after the commit but before reporting
completion runs it again); the service's lock-and-check makes the repeat write nothing.
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.db import unit_of_work
from domain.reminders.schemas import DeliveryResult
from domain.reminders.service import ReminderService
from workflows.reminders.inputs import DeliverReminder


class ReminderActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    @activity.defn(name="deliver_reminder")
    async def deliver(self, request: DeliverReminder) -> DeliveryResult:
        async with unit_of_work(self.sessionmaker) as session:
            result = await ReminderService(session).deliver(request.reminder_id)
        activity.logger.info("reminder %s: %s", request.reminder_id, result.outcome)
        return result
