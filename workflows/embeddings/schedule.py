"""The embedding reconciler's Schedule, made sure of by every worker when it starts."""

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

from workflows.embeddings.inputs import SCHEDULE_ID, EmbedStale
from workflows.embeddings.workflow import EmbeddingReconcileWorkflow

EVERY = timedelta(minutes=5)


async def ensure_embedding_schedule(client: Client, task_queue: str) -> None:
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            EmbeddingReconcileWorkflow.run, EmbedStale(), id=SCHEDULE_ID, task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    # Made already by another worker, or by this one's earlier start.
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(schedule_id(task_queue), schedule)


def schedule_id(task_queue: str) -> str:
    return f"{SCHEDULE_ID}-{task_queue}"
