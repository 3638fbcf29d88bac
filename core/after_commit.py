"""Work that may only happen once a unit of work has committed, such as starting a workflow about
a row: started earlier, the workflow could run before the row exists, or about a row that a
rollback then removes.

`defer_until_commit(session, job)` queues `job`; the units of work (a request's, and
`core.db.unit_of_work`) run the queue right after their commit and drop it on rollback. A job
that fails is logged and does not fail the committed request: whatever it starts must also be
started by a reconciler (see docs/workflows.md).
"""

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

logger = structlog.get_logger("studypilot.after_commit")
_DEFERRED_KEY = "after_commit"

Job = Callable[[], Awaitable[None]]


def defer_until_commit(session: AsyncSession, job: Job) -> None:
    session.info.setdefault(_DEFERRED_KEY, []).append(job)


def discard_deferred(session: AsyncSession) -> None:
    session.info.pop(_DEFERRED_KEY, None)


async def run_deferred(session: AsyncSession) -> None:
    jobs: list[Job] = session.info.pop(_DEFERRED_KEY, [])
    for job in jobs:
        try:
            await job()
        except Exception:
            logger.exception("after_commit_job_failed", job=getattr(job, "__qualname__", "?"))
