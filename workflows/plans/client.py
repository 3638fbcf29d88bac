"""`PlanTracker` on Temporal: what the API calls about a plan's workflow."""

import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from domain.plans.tracking import (
    PlanTrack,
    PlanTracking,
    ProgressReport,
    ReplanApplied,
    TrackedSlot,
)
from workflows.plans.inputs import PlanState, workflow_id
from workflows.plans.workflow import PlanWorkflow

QUERY_TIMEOUT = timedelta(seconds=2)
_GONE = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


class TemporalPlanTracker:
    def __init__(self, client: Client, task_queue: str, grace_seconds: float) -> None:
        self.client, self.task_queue, self.grace_seconds = client, task_queue, grace_seconds

    async def start(self, track: PlanTrack) -> None:
        await self.client.start_workflow(
            PlanWorkflow.run,
            PlanState(track=track, grace_seconds=self.grace_seconds),
            id=workflow_id(track.plan_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def progress(self, plan_id: uuid.UUID, report: ProgressReport) -> None:
        await self._signal(plan_id, "progress", report)

    async def cancel(self, plan_id: uuid.UUID) -> None:
        await self._signal(plan_id, "cancel", None)

    async def replanned(self, plan_id: uuid.UUID, slots: list[TrackedSlot]) -> None:
        await self._signal(plan_id, "replanned", ReplanApplied(slots=slots))

    async def _signal(self, plan_id: uuid.UUID, name: str, arg: BaseModel | None) -> None:
        handle = self.client.get_workflow_handle(workflow_id(plan_id))
        try:
            if arg is None:
                await handle.signal(name)
            else:
                await handle.signal(name, arg)
        except RPCError as exc:
            # A plan whose workflow has finished (or never started) has nothing to hear.
            if exc.status not in _GONE:
                raise

    async def status(self, plan_id: uuid.UUID) -> PlanTracking | None:
        handle = self.client.get_workflow_handle_for(PlanWorkflow.run, workflow_id(plan_id))
        try:
            return await handle.query(PlanWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError):
            return None
