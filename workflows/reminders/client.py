"""`ReminderTimers` on Temporal: what the API and the reconciler call."""

import uuid
from datetime import datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from workflows.reminders.inputs import ReminderMove, ReminderTimer, workflow_id
from workflows.reminders.workflow import ReminderWorkflow


class TemporalReminderTimers:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client, self.task_queue = client, task_queue

    async def schedule(self, reminder_id: uuid.UUID, remind_at: datetime) -> None:
        """Signal-with-start: starts the workflow, or moves the running one's timer. Needs no
        worker to be up: the server records both, and a worker acts on them when it comes."""
        await self.client.start_workflow(
            ReminderWorkflow.run,
            ReminderTimer(reminder_id=reminder_id, remind_at=remind_at),
            id=workflow_id(reminder_id),
            task_queue=self.task_queue,
            start_signal="reschedule",
            start_signal_args=[ReminderMove(remind_at=remind_at)],
        )

    async def ensure_started(self, reminder_id: uuid.UUID, remind_at: datetime) -> None:
        """Start the workflow unless one runs already (the reconciler): adds nothing to a
        running workflow's history."""
        await self.client.start_workflow(
            ReminderWorkflow.run,
            ReminderTimer(reminder_id=reminder_id, remind_at=remind_at),
            id=workflow_id(reminder_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def cancel(self, reminder_id: uuid.UUID) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id(reminder_id)).cancel()
        except RPCError as exc:
            # No workflow (never started) or one already finished: nothing left to stop.
            if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise
