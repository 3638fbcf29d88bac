"""`embed-<table>-<row_id>`: embeds a row after a write; `embedding-reconciler`: started by its
Schedule (overlap SKIP: one run at a time), embeds rows whose run was lost."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.embeddings.activities import EmbeddingActivities
    from workflows.embeddings.inputs import (
        EmbedRow,
        EmbedStale,
        EmbedStaleResult,
        embedding_task_queue,
    )

EMBED_TIMEOUT = timedelta(minutes=5)
EMBED_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5)
# A row's embedding: quick retries (a provider's hiccup), then one last attempt that gives up.
ROW_TIMEOUT = timedelta(minutes=2)
ROW_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=4)
LAST_ATTEMPT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


@workflow.defn(name="EmbedRow")
class EmbedRowWorkflow:
    """Started with the signal `changed` (signal-with-start): a write while the row is being
    embedded signals the running workflow, which embeds once more when the run ends, so the
    stored vector is always of the row's last text."""

    @workflow.init
    def __init__(self, request: EmbedRow) -> None:
        self._changed = False

    @workflow.signal(name="changed")
    def changed(self) -> None:
        self._changed = True

    @workflow.run
    async def run(self, request: EmbedRow) -> None:
        queue = embedding_task_queue(workflow.info().task_queue)
        while True:
            self._changed = False
            try:
                await workflow.execute_activity_method(
                    EmbeddingActivities.embed_row,
                    request,
                    task_queue=queue,
                    start_to_close_timeout=ROW_TIMEOUT,
                    retry_policy=ROW_RETRY,
                )
            except ActivityError:
                await workflow.execute_activity_method(
                    EmbeddingActivities.embed_row,
                    request.model_copy(update={"give_up": True}),
                    task_queue=queue,
                    start_to_close_timeout=ROW_TIMEOUT,
                    retry_policy=LAST_ATTEMPT_RETRY,
                )
            if not self._changed:
                return


@workflow.defn(name="EmbeddingReconcile")
class EmbeddingReconcileWorkflow:
    @workflow.run
    async def run(self, request: EmbedStale) -> EmbedStaleResult:
        return await workflow.execute_activity_method(
            EmbeddingActivities.embed_stale,
            request,
            start_to_close_timeout=EMBED_TIMEOUT,
            retry_policy=EMBED_RETRY,
        )
