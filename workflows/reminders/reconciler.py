"""Starts the workflow of every pending reminder that has none.

A reminder's workflow is started after the request that created it commits; if that start is
lost (Temporal down, the API process killed in between), the reminder is still `pending` and
this finds it. Run by every worker when it starts and then periodically; starting a workflow
that already runs is a no-op (USE_EXISTING), so several workers reconciling at once is safe.
"""

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from domain.reminders.service import ReminderService
from workflows.reminders.client import TemporalReminderTimers

logger = structlog.get_logger("studypilot.workflows.reconciler")


async def start_missing_reminder_workflows(
    sessionmaker: async_sessionmaker[AsyncSession], timers: TemporalReminderTimers
) -> int:
    """Returns how many pending reminders it made sure of."""
    # Read, release the connection, then talk to Temporal: no transaction across the calls.
    async with unit_of_work(sessionmaker) as session:
        pending = await ReminderService(session).pending()
    for reminder_id, remind_at in pending:
        await timers.ensure_started(reminder_id, remind_at)
    logger.info("reminders_reconciled", pending=len(pending))
    return len(pending)
