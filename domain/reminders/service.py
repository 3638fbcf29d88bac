"""Reminder rules: create, read, list, move and cancel the caller's reminders, and deliver one.

A reminder stays `pending` until its delivery workflow fires; the timer is started, moved and
stopped through `ReminderTimers` once the change has committed. Delivery writes the in-app
notification and marks the reminder `sent` in one transaction, at most once per reminder.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.after_commit import defer_until_commit
from core.errors import ConflictError, NotFoundError
from core.pagination import Page, PageParams
from domain.notifications.service import NotificationService
from domain.reminders.models import Reminder
from domain.reminders.repository import ReminderRepository
from domain.reminders.schemas import (
    DeliveryResult,
    ReminderCreate,
    ReminderRead,
    ReminderStatus,
    ReminderUpdate,
)
from domain.reminders.timers import ReminderTimers
from domain.users.models import User

PENDING, SENT, CANCELLED = "pending", "sent", "cancelled"
# A timer may fire a little before the stored instant (clock skew between processes).
DUE_TOLERANCE = timedelta(seconds=1)


class ReminderNotPendingError(ConflictError):
    code = "reminder_not_pending"

    def __init__(self, status: str) -> None:
        super().__init__(f"The reminder is {status}; only a pending one can change.")


class ReminderService:
    def __init__(self, session: AsyncSession, timers: ReminderTimers | None = None) -> None:
        """`timers` None: no workflow engine is configured; pending reminders wait for a
        worker's reconciler to start their timers."""
        self.session = session
        self.reminders = ReminderRepository(session)
        self.timers = timers

    async def create(self, user: User, data: ReminderCreate) -> ReminderRead:
        if data.schedule_block_id is not None and not await self.reminders.block_owned_by(
            user.id, data.schedule_block_id
        ):
            raise NotFoundError("Schedule block not found.")
        if data.goal_id is not None and not await self.reminders.goal_owned_by(
            user.id, data.goal_id
        ):
            raise NotFoundError("Goal not found.")
        reminder = Reminder(
            user_id=user.id,
            remind_at=data.remind_at,
            message=data.message,
            schedule_block_id=data.schedule_block_id,
            goal_id=data.goal_id,
            channel=data.channel,
            status=PENDING,
        )
        await self.reminders.add(reminder)
        await self.session.refresh(reminder)
        self._schedule_after_commit(reminder.id, reminder.remind_at)
        return ReminderRead.model_validate(reminder)

    async def _owned(
        self, user: User, reminder_id: uuid.UUID, *, for_update: bool = False
    ) -> Reminder:
        reminder = await self.reminders.get_owned(user.id, reminder_id, for_update=for_update)
        if reminder is None:
            raise NotFoundError("Reminder not found.")
        return reminder

    async def get(self, user: User, reminder_id: uuid.UUID) -> ReminderRead:
        return ReminderRead.model_validate(await self._owned(user, reminder_id))

    async def page(
        self, user: User, params: PageParams, status: ReminderStatus | None = None
    ) -> Page[ReminderRead]:
        """Newest first."""
        rows, next_cursor = await self.reminders.page(user.id, status, params)
        return Page[ReminderRead](
            items=[ReminderRead.model_validate(row) for row in rows], next_cursor=next_cursor
        )

    async def update(
        self, user: User, reminder_id: uuid.UUID, data: ReminderUpdate
    ) -> ReminderRead:
        reminder = await self._owned(user, reminder_id, for_update=True)
        if reminder.status != PENDING:
            raise ReminderNotPendingError(reminder.status)
        if data.message is not None:
            reminder.message = data.message
        if data.remind_at is not None and data.remind_at != reminder.remind_at:
            reminder.remind_at = data.remind_at
            self._schedule_after_commit(reminder.id, data.remind_at)
        await self.session.flush()
        await self.session.refresh(reminder)
        return ReminderRead.model_validate(reminder)

    async def cancel(self, user: User, reminder_id: uuid.UUID) -> None:
        """A pending reminder becomes `cancelled` (kept, never delivered); cancelling it again
        changes nothing; a sent one cannot be."""
        reminder = await self._owned(user, reminder_id, for_update=True)
        if reminder.status == CANCELLED:
            return
        if reminder.status != PENDING:
            raise ReminderNotPendingError(reminder.status)
        reminder.status = CANCELLED
        await self.session.flush()
        if self.timers is not None:
            timers, reminder_id = self.timers, reminder.id
            defer_until_commit(self.session, lambda: timers.cancel(reminder_id))

    async def deliver(self, reminder_id: uuid.UUID, now: datetime | None = None) -> DeliveryResult:
        """Deliver a due reminder: its notification and its `sent` status in this one unit of
        work. Safe to repeat: the row is locked and checked first, so a retried or replayed
        delivery finds it done and writes nothing."""
        now = now or datetime.now(UTC)
        reminder = await self.reminders.get(reminder_id, for_update=True)
        if reminder is None:
            return DeliveryResult(outcome="missing")
        if reminder.status != PENDING:
            return DeliveryResult(outcome="already_done")
        if reminder.remind_at > now + DUE_TOLERANCE:
            return DeliveryResult(outcome="not_due", remind_at=reminder.remind_at)
        await NotificationService(self.session).notify(
            reminder.user_id,
            "reminder",
            "Reminder",
            reminder.message,
            data=_subject(reminder),
            reminder_id=reminder.id,
        )
        reminder.status = SENT
        reminder.sent_at = now
        await self.session.flush()
        return DeliveryResult(outcome="delivered")

    async def pending(self) -> list[tuple[uuid.UUID, datetime]]:
        """Every pending reminder's id and time, for the reconciler."""
        return await self.reminders.pending()

    def _schedule_after_commit(self, reminder_id: uuid.UUID, remind_at: datetime) -> None:
        if self.timers is not None:
            timers = self.timers
            defer_until_commit(self.session, lambda: timers.schedule(reminder_id, remind_at))


def _subject(reminder: Reminder) -> dict[str, str]:
    data = {"reminder_id": str(reminder.id)}
    if reminder.schedule_block_id is not None:
        data["schedule_block_id"] = str(reminder.schedule_block_id)
    if reminder.goal_id is not None:
        data["goal_id"] = str(reminder.goal_id)
    return data
