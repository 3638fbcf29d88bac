"""The reconcilers' Schedules (embeddings, documents), made sure of by every worker when it
starts: one per task queue, every few minutes, one run at a time (overlap SKIP)."""

import contextlib
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from workflows.documents.inputs import SCHEDULE_ID as DOCUMENTS
from workflows.documents.inputs import ReprocessStuck
from workflows.documents.workflow import DocumentReconcileWorkflow
from workflows.embeddings.inputs import SCHEDULE_ID as EMBEDDINGS
from workflows.embeddings.inputs import EmbedStale
from workflows.embeddings.workflow import EmbeddingReconcileWorkflow

EVERY = timedelta(minutes=5)


async def ensure_reconciler_schedules(client: Client, task_queue: str) -> None:
    actions = {
        EMBEDDINGS: ScheduleActionStartWorkflow(
            EmbeddingReconcileWorkflow.run, EmbedStale(), id=EMBEDDINGS, task_queue=task_queue
        ),
        DOCUMENTS: ScheduleActionStartWorkflow(
            DocumentReconcileWorkflow.run, ReprocessStuck(), id=DOCUMENTS, task_queue=task_queue
        ),
    }
    for name, action in actions.items():
        schedule = Schedule(
            action=action,
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
        # Made already by another worker, or by this one's earlier start.
        with contextlib.suppress(ScheduleAlreadyRunningError):
            await client.create_schedule(schedule_id(name, task_queue), schedule)


def schedule_id(name: str, task_queue: str) -> str:
    return f"{name}-{task_queue}"
