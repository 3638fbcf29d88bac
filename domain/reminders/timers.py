"""The port through which reminder rules start, move and stop a reminder's durable timer.

The implementation is the reminder delivery workflow (`workflows/reminders/client.py`); the
rules only say when. Every call runs after the unit of work that changed the reminder commits,
and the delivery re-reads the row, so a call that is lost only delays a reminder until the
reconciler starts its workflow: the database stays the truth.
"""

import uuid
from datetime import datetime
from typing import Protocol, runtime_checkable


# Checkable: tool contexts holding it are introspected by pydantic.
@runtime_checkable
class ReminderTimers(Protocol):
    async def schedule(self, reminder_id: uuid.UUID, remind_at: datetime) -> None:
        """Start the reminder's timer, or move it when it already runs."""
        ...

    async def cancel(self, reminder_id: uuid.UUID) -> None:
        """Stop the reminder's timer; nothing when there is none."""
        ...
