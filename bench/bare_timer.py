"""Temporal alone, for bench/reminders.py: sleep until an instant, run one no-op activity, and
report when it ran. Its own module: the workflow sandbox re-imports the module a workflow is
defined in, so it imports nothing but the SDK."""

import time
from datetime import timedelta

from temporalio import activity, workflow


@workflow.defn(name="BareTimer")
class BareTimer:
    @workflow.run
    async def run(self, due_at: float) -> float:
        await workflow.sleep(max(0.0, due_at - workflow.now().timestamp()))
        return await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))


@activity.defn
async def noop() -> float:
    return time.time()
