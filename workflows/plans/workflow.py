"""`plan-<plan_id>`: follows an accepted plan until its last day ends, the goal is complete, or
the plan is cancelled.

It sleeps until the next session's end plus a grace period (durable timers, no transaction
held), then checks: a session with no progress recorded during it (or within the grace around
it) is missed, and a missed session makes the plan `behind` and re-plans it: the plan agent's
activity redrafts what is left (one activity, retried by Temporal), then the re-plan activity
has the scheduler place it in the calendar as it is then (what was owed, as it was, when the
agent has no usable redraft). Progress arrives by signal
from `POST /goals/{id}/progress`; `status` answers `GET /plans/{id}`. History stays bounded:
past a few thousand events it continues as new with its state.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.plans.replan import MODEL_UNREACHABLE, ReplanDraft
    from domain.plans.tracking import PlanTracking, ProgressReport, ReplanApplied, TrackedSlot
    from workflows.plans.activities import PlanActivities
    from workflows.plans.inputs import PlanState, RedraftRequest, ReplanRequest

REPLAN_TIMEOUT = timedelta(minutes=2)
REPLAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=10)
# One model run (the graph's draft and its one repair), its client not retrying: Temporal does.
REDRAFT_TIMEOUT = timedelta(minutes=3)
REDRAFT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=3,
)
# Workflows started before the agent re-plan replay without it.
REPLAN_THROUGH_AGENT = "replan-through-agent"
HISTORY_LIMIT = 5_000


@workflow.defn(name="PlanFollowUp")
class PlanWorkflow:
    @workflow.init
    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._woken = False

    @workflow.signal(name="progress")
    def progress(self, report: ProgressReport) -> None:
        self._state.progress_at.append(report.occurred_at)
        self._state.minutes_done += report.minutes
        self._state.goal_completed = self._state.goal_completed or report.goal_completed
        self._woken = True

    @workflow.signal(name="replanned")
    def replanned(self, applied: ReplanApplied) -> None:
        """A proposed re-plan the student accepted: its slots are followed from now on."""
        state = self._state
        state.track.slots = applied.slots
        state.replans += 1
        state.status = "replanned"
        self._woken = True

    @workflow.signal(name="cancel")
    def cancel(self) -> None:
        self._state.cancelled = True
        self._woken = True

    @workflow.query(name="status")
    def status(self) -> PlanTracking:
        now = workflow.now()
        state = self._state
        ahead = [slot.start for slot in state.track.slots if slot.start > now]
        return PlanTracking(
            status=state.status,
            next_session_at=min(ahead) if ahead and state.status not in _DONE else None,
            minutes_done=state.minutes_done,
            minutes_planned=sum(_minutes(slot) for slot in state.track.slots),
            missed_sessions=state.missed_sessions,
            replans=state.replans,
        )

    @workflow.run
    async def run(self, state: PlanState) -> PlanTracking:
        grace = timedelta(seconds=self._state.grace_seconds)
        while True:
            state = self._state
            if state.cancelled:
                state.status = "cancelled"
                return self.status()
            if state.goal_completed or workflow.now() >= state.track.ends_at:
                state.status = "completed"
                return self.status()
            due = [
                slot
                for slot in state.track.slots
                if slot.block_id not in state.checked_blocks and slot.end + grace <= workflow.now()
            ]
            if due:
                await self._check(due, grace)
                continue
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(state)
            await self._sleep_until(self._next_check(grace))

    async def _check(self, due: list[TrackedSlot], grace: timedelta) -> None:
        state = self._state
        state.checked_blocks.extend(slot.block_id for slot in due)
        missed = [slot for slot in due if not self._practised(slot, grace)]
        if not missed:
            return
        state.missed_sessions += len(missed)
        state.status = "behind"
        request = ReplanRequest(
            plan_id=state.track.plan_id, missed_block_ids=[slot.block_id for slot in missed]
        )
        if workflow.patched(REPLAN_THROUGH_AGENT):
            request.draft = await self._redraft(request)
        result = await workflow.execute_activity_method(
            PlanActivities.replan,
            request,
            start_to_close_timeout=REPLAN_TIMEOUT,
            retry_policy=REPLAN_RETRY,
        )
        if result.replanned:
            state.replans += 1
            state.status = "replanned"
            past = [slot for slot in state.track.slots if slot.block_id in state.checked_blocks]
            state.track.slots = [
                *[slot for slot in past if slot not in missed],
                *[slot for slot in result.slots if slot.block_id not in state.checked_blocks],
            ]

    async def _redraft(self, request: RedraftRequest) -> ReplanDraft:
        """The agent's redraft; when it keeps failing, none (the owed sessions are placed again,
        and the student is told why)."""
        try:
            return await workflow.execute_activity_method(
                PlanActivities.redraft,
                RedraftRequest(plan_id=request.plan_id, missed_block_ids=request.missed_block_ids),
                start_to_close_timeout=REDRAFT_TIMEOUT,
                retry_policy=REDRAFT_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("plan redraft failed; placing the owed sessions again")
            return ReplanDraft.without_model(MODEL_UNREACHABLE)

    def _practised(self, slot: TrackedSlot, grace: timedelta) -> bool:
        return any(slot.start - grace <= at <= slot.end + grace for at in self._state.progress_at)

    def _next_check(self, grace: timedelta) -> datetime:
        state = self._state
        ends = [
            slot.end + grace
            for slot in state.track.slots
            if slot.block_id not in state.checked_blocks
        ]
        return min([*ends, state.track.ends_at])

    async def _sleep_until(self, moment: datetime) -> None:
        self._woken = False
        delay = (moment - workflow.now()).total_seconds()
        if delay <= 0:
            return
        try:
            await workflow.wait_condition(self._was_woken(), timeout=delay)
        except TimeoutError:
            return

    def _was_woken(self) -> Callable[[], bool]:
        return lambda: self._woken


_DONE = ("completed", "cancelled")


def _minutes(slot: TrackedSlot) -> int:
    return int((slot.end - slot.start).total_seconds() // 60)
