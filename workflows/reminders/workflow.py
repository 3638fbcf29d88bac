"""`reminder-<id>`: wait, durably, until the reminder is due, then deliver it once.

The timer moves with the `reschedule` signal (a PATCH of `remind_at`); cancelling the workflow
stops it (a DELETE). The activity re-reads the reminder, so a timer that fires for a reminder
moved later without this workflow hearing of it goes back to sleep until the stored time, and
one that fires for a cancelled or already sent reminder writes nothing.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.reminders.schemas import DeliveryResult
    from workflows.reminders.activities import ReminderActivities
    from workflows.reminders.inputs import DeliverReminder, ReminderMove, ReminderTimer

DELIVERY_TIMEOUT = timedelta(seconds=10)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


@workflow.defn(name="ReminderDelivery")
class ReminderWorkflow:
    @workflow.init
    def __init__(self, timer: ReminderTimer) -> None:
        # Set here, not in run(): a signal that arrives in the first task must not be
        # overwritten by the start input.
        self._remind_at = timer.remind_at

    @workflow.signal(name="reschedule")
    def reschedule(self, move: ReminderMove) -> None:
        self._remind_at = move.remind_at

    @workflow.query(name="remind_at")
    def remind_at(self) -> datetime:
        return self._remind_at

    @workflow.run
    async def run(self, timer: ReminderTimer) -> DeliveryResult:
        while True:
            await self._sleep_until_due()
            result = await workflow.execute_activity_method(
                ReminderActivities.deliver,
                DeliverReminder(reminder_id=timer.reminder_id),
                start_to_close_timeout=DELIVERY_TIMEOUT,
                retry_policy=DELIVERY_RETRY,
            )
            if result.outcome != "not_due" or result.remind_at is None:
                return result
            self._remind_at = result.remind_at

    def _moved_from(self, target: datetime) -> Callable[[], bool]:
        return lambda: self._remind_at != target

    async def _sleep_until_due(self) -> None:
        while True:
            target = self._remind_at
            delay = (target - workflow.now()).total_seconds()
            if delay <= 0:
                return
            try:
                # Wakes early when the reminder is moved, and then sleeps to the new time.
                await workflow.wait_condition(self._moved_from(target), timeout=delay)
            except TimeoutError:
                if self._remind_at == target:
                    return
