"""The API's side of documents: the processing runtime per request, processing after uploads."""

import uuid
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from domain.documents.processing import DocumentRuntime, process_in_background


async def get_document_runtime(request: Request) -> DocumentRuntime:
    # Read from app.state on each request: tests and benchmarks swap the embedder and sessions.
    state = request.app.state
    return DocumentRuntime(
        sessionmaker=state.sessionmaker,
        storage=state.document_storage,
        embedder=state.embedder,
        model_id=state.embedding_model_id,
        pool=state.extraction_pool,
        extraction_limits=state.extraction_limits,
        upload_limits=state.upload_limits,
    )


DocumentRuntimeDep = Annotated[DocumentRuntime, Depends(get_document_runtime)]


def schedule_processing(
    background: BackgroundTasks, runtime: DocumentRuntime, document_id: uuid.UUID
) -> None:
    """Process the document once the response is sent: the upload's unit of work has committed
    by then, so the row is there."""
    background.add_task(process_in_background, document_id, runtime)
