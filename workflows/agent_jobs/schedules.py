"""`AgentJobSchedules` on Temporal Schedules: `morning-agenda-<user>` daily and
`weekly-review-<user>` weekly, at the user's local time in their zone (Temporal applies the
zone's DST rules), overlap SKIP (a run still going makes the next one skip, never pile up).
A cleared time pauses its schedule (kept for its history); setting one again resumes it."""

from collections.abc import Sequence
from datetime import time

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.digests.schemas import DigestKind
from domain.users.agent_jobs import AgentJobTimes
from workflows.agent_jobs.inputs import AgentJob, schedule_id
from workflows.agent_jobs.workflow import AgentJobWorkflow

EVERY_DAY: Sequence[ScheduleRange] = (ScheduleRange(0, 6),)


def _calendar(at: time, days: Sequence[ScheduleRange]) -> ScheduleCalendarSpec:
    return ScheduleCalendarSpec(
        hour=[ScheduleRange(at.hour)],
        minute=[ScheduleRange(at.minute)],
        second=[ScheduleRange(at.second)],
        day_of_week=days,
    )


class TemporalAgentJobSchedules:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client, self.task_queue = client, task_queue

    async def sync(self, times: AgentJobTimes) -> None:
        morning = times.morning_agenda_at
        await self._apply(
            times, "morning_agenda", _calendar(morning, EVERY_DAY) if morning else None
        )
        weekly = times.weekly_review_at
        # Ours: 0 = Monday; Temporal's: 0 = Sunday.
        weekday = [ScheduleRange((weekly.weekday + 1) % 7)] if weekly else []
        await self._apply(
            times, "weekly_review", _calendar(weekly.time, weekday) if weekly else None
        )

    def _schedule(
        self, times: AgentJobTimes, kind: DigestKind, calendar: ScheduleCalendarSpec
    ) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                AgentJobWorkflow.run,
                AgentJob(user_id=times.user_id, kind=kind),
                id=schedule_id(kind, times.user_id),
                task_queue=self.task_queue,
            ),
            spec=ScheduleSpec(calendars=[calendar], time_zone_name=times.timezone),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            state=ScheduleState(paused=False),
        )

    async def _apply(
        self, times: AgentJobTimes, kind: DigestKind, calendar: ScheduleCalendarSpec | None
    ) -> None:
        handle = self.client.get_schedule_handle(schedule_id(kind, times.user_id))
        if calendar is None:
            try:
                await handle.pause(note="turned off by the user")
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            return
        schedule = self._schedule(times, kind, calendar)
        try:
            await self.client.create_schedule(handle.id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await handle.update(replace)
