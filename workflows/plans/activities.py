"""The plan workflow's activity: a re-plan through `PlanService.replan`, in its own unit of
work; the new sittings' reminders get their workflows once it commits."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.db import unit_of_work
from domain.plans.service import PlanService, ReplanResult
from domain.reminders.timers import ReminderTimers
from workflows.plans.inputs import ReplanRequest


class PlanActivities:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], reminder_timers: ReminderTimers
    ) -> None:
        self.sessionmaker, self.reminder_timers = sessionmaker, reminder_timers

    @activity.defn(name="replan_plan")
    async def replan(self, request: ReplanRequest) -> ReplanResult:
        async with unit_of_work(self.sessionmaker) as session:
            service = PlanService(session, reminder_timers=self.reminder_timers)
            return await service.replan(request.plan_id, request.missed_block_ids)
