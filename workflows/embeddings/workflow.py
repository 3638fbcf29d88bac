"""`embedding-reconciler`: started by its Schedule (overlap SKIP: one run at a time)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.embeddings.activities import EmbeddingActivities
    from workflows.embeddings.inputs import EmbedStale, EmbedStaleResult

EMBED_TIMEOUT = timedelta(minutes=5)
EMBED_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5)


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
