import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.notifications.models import Notification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(
        self, user_id: uuid.UUID, notification_id: uuid.UUID
    ) -> Notification | None:
        statement = select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def for_reminder(self, reminder_id: uuid.UUID) -> Notification | None:
        statement = select(Notification).where(Notification.reminder_id == reminder_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def by_dedupe_key(self, key: str) -> Notification | None:
        statement = select(Notification).where(Notification.dedupe_key == key)
        return (await self.session.scalars(statement)).one_or_none()

    async def page(
        self, user_id: uuid.UUID, unread_only: bool, params: PageParams
    ) -> tuple[list[Notification], str | None]:
        statement = select(Notification).where(Notification.user_id == user_id)
        if unread_only:
            statement = statement.where(Notification.read_at.is_(None))
        return await paginate(
            self.session, statement, (Notification.created_at, Notification.id), params
        )

    async def add(self, notification: Notification) -> Notification:
        self.session.add(notification)
        await self.session.flush()
        await self.session.refresh(notification)
        return notification

    async def mark_all_read(self, user_id: uuid.UUID, at: datetime) -> int:
        statement = (
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=at)
        )
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]
