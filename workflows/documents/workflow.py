"""`document-reconciler`: started by its Schedule (overlap SKIP: one run at a time)."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.documents.activities import DocumentActivities
    from workflows.documents.inputs import ReprocessResult, ReprocessStuck

# Several large documents may be stuck at once, each up to the extraction timeout.
REPROCESS_TIMEOUT = timedelta(minutes=30)
REPROCESS_RETRY = RetryPolicy(initial_interval=timedelta(seconds=10), maximum_attempts=3)


@workflow.defn(name="DocumentReconcile")
class DocumentReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReprocessStuck) -> ReprocessResult:
        return await workflow.execute_activity_method(
            DocumentActivities.reprocess_stuck,
            request,
            start_to_close_timeout=REPROCESS_TIMEOUT,
            retry_policy=REPROCESS_RETRY,
        )
