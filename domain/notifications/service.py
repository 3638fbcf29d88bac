"""Notification rules: write one (and announce it live), list, mark read."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFoundError
from core.events import Event, queue_event
from core.pagination import Page, PageParams
from domain.notifications.models import Notification
from domain.notifications.repository import NotificationRepository
from domain.notifications.schemas import NotificationKind, NotificationRead, ReadAllResult
from domain.users.models import User

NOTIFICATIONS_TOPIC = "notifications"


class NotificationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.notifications = NotificationRepository(session)

    async def notify(
        self,
        user_id: uuid.UUID,
        kind: NotificationKind,
        title: str,
        body: str,
        *,
        data: dict[str, Any] | None = None,
        reminder_id: uuid.UUID | None = None,
        dedupe_key: str | None = None,
    ) -> NotificationRead:
        """Write a notification and queue its `notification` event on this unit of work, so
        the student's live views hear of it exactly when it is committed. With `dedupe_key`, a
        notification already written under it is returned instead (a retried job); the unique
        constraint settles a race."""
        if dedupe_key is not None:
            existing = await self.notifications.by_dedupe_key(dedupe_key)
            if existing is not None:
                return NotificationRead.model_validate(existing)
        notification = await self.notifications.add(
            Notification(
                user_id=user_id,
                kind=kind,
                title=title,
                body=body,
                data=data or {},
                reminder_id=reminder_id,
                dedupe_key=dedupe_key,
            )
        )
        read = NotificationRead.model_validate(notification)
        queue_event(
            self.session,
            Event(
                user_id=user_id,
                topic=NOTIFICATIONS_TOPIC,
                type="notification",
                data=read.model_dump(mode="json"),
            ),
        )
        return read

    async def by_dedupe_key(self, key: str) -> NotificationRead | None:
        existing = await self.notifications.by_dedupe_key(key)
        return NotificationRead.model_validate(existing) if existing is not None else None

    async def page(
        self, user: User, params: PageParams, *, unread_only: bool = False
    ) -> Page[NotificationRead]:
        """Newest first."""
        rows, next_cursor = await self.notifications.page(user.id, unread_only, params)
        return Page[NotificationRead](
            items=[NotificationRead.model_validate(row) for row in rows], next_cursor=next_cursor
        )

    async def mark_read(self, user: User, notification_id: uuid.UUID) -> NotificationRead:
        """Idempotent: a notification read before keeps its first read time."""
        notification = await self.notifications.get_owned(user.id, notification_id)
        if notification is None:
            raise NotFoundError("Notification not found.")
        if notification.read_at is None:
            notification.read_at = datetime.now(UTC)
            await self.session.flush()
        return NotificationRead.model_validate(notification)

    async def mark_all_read(self, user: User) -> ReadAllResult:
        marked = await self.notifications.mark_all_read(user.id, datetime.now(UTC))
        return ReadAllResult(marked_read=marked)
