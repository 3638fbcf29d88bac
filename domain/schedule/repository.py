import uuid
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain.goals.models import Goal
from domain.schedule.models import ScheduleBlock, ScheduleException


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(
        self, user_id: uuid.UUID, block_id: uuid.UUID, *, for_update: bool = False
    ) -> ScheduleBlock | None:
        """The caller's block with its exceptions; `for_update` serialises edits of one block."""
        statement = (
            select(ScheduleBlock)
            .where(ScheduleBlock.id == block_id, ScheduleBlock.user_id == user_id)
            .options(selectinload(ScheduleBlock.exceptions))
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update(of=ScheduleBlock)
        return (await self.session.scalars(statement)).one_or_none()

    async def overlapping(
        self,
        user_id: uuid.UUID,
        start: datetime,
        end: datetime,
        *,
        exclude_id: uuid.UUID | None = None,
    ) -> list[ScheduleBlock]:
        """The caller's blocks that may have an occurrence overlapping [start, end).

        A superset: the span start_at..series_until bounds generated occurrences, and moved
        exceptions, which may land outside it, are matched on their own.
        """
        moved_into_window = exists().where(
            ScheduleException.block_id == ScheduleBlock.id,
            ScheduleException.cancelled.is_(False),
            ScheduleException.new_start < end,
            ScheduleException.new_end > start,
        )
        statement = (
            select(ScheduleBlock)
            .where(
                ScheduleBlock.user_id == user_id,
                or_(
                    and_(
                        ScheduleBlock.start_at < end,
                        or_(
                            ScheduleBlock.series_until.is_(None),
                            ScheduleBlock.series_until > start,
                        ),
                    ),
                    moved_into_window,
                ),
            )
            .options(selectinload(ScheduleBlock.exceptions))
            .order_by(ScheduleBlock.start_at, ScheduleBlock.id)
            .execution_options(populate_existing=True)
        )
        if exclude_id is not None:
            statement = statement.where(ScheduleBlock.id != exclude_id)
        return list((await self.session.scalars(statement)).all())

    async def add(self, block: ScheduleBlock) -> ScheduleBlock:
        self.session.add(block)
        await self.session.flush()
        return block

    async def delete(self, block: ScheduleBlock) -> None:
        # Its exceptions go with it (loaded, so the ORM deletes them); reminders by FK cascade.
        await self.session.delete(block)
        await self.session.flush()

    async def goal_owned_by(self, user_id: uuid.UUID, goal_id: uuid.UUID) -> bool:
        statement = select(exists().where(Goal.id == goal_id, Goal.user_id == user_id))
        return bool(await self.session.scalar(statement))
