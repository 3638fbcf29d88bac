"""The port through which account rules keep a user's scheduled agent jobs in step with their
preferences (`morning_agenda_at`, `weekly_review_at`, `timezone`).

The implementation is a pair of Temporal Schedules per user (`workflows/agent_jobs/`). It is
called after the change commits, with the whole current state, so a repeated call is harmless.
"""

import uuid
from dataclasses import dataclass
from datetime import time
from typing import Protocol

from domain.users.schemas import WeeklyTime


@dataclass(frozen=True)
class AgentJobTimes:
    user_id: uuid.UUID
    timezone: str
    morning_agenda_at: time | None
    weekly_review_at: WeeklyTime | None


class AgentJobSchedules(Protocol):
    async def sync(self, times: AgentJobTimes) -> None:
        """Create, update, or pause (when cleared) the user's job schedules."""
        ...
