"""The document reconciler's activity: `reprocess_stuck`, as `studypilot documents reprocess`
runs it, with the worker's extraction pool and embedder."""

from datetime import timedelta

from temporalio import activity

from domain.documents.processing import DocumentRuntime, reprocess_stuck
from workflows.documents.inputs import ReprocessResult, ReprocessStuck


class DocumentActivities:
    def __init__(self, runtime: DocumentRuntime) -> None:
        self.runtime = runtime

    @activity.defn(name="reprocess_stuck_documents")
    async def reprocess_stuck(self, request: ReprocessStuck) -> ReprocessResult:
        older_than = timedelta(seconds=request.older_than_seconds)
        return ReprocessResult(outcomes=await reprocess_stuck(self.runtime, older_than))
