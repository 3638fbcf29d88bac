"""The owner-scoped basics every per-user table's repository starts from."""

import uuid
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

RowT = TypeVar("RowT")


class OwnedRepository(Generic[RowT]):
    """Rows with a `user_id`: reading by id always includes the owner, so ids cannot be probed."""

    model: ClassVar[Any]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, row_id: uuid.UUID) -> RowT | None:
        result = await self.session.execute(
            select(self.model).where(self.model.id == row_id, self.model.user_id == user_id)
        )
        row: RowT | None = result.scalar_one_or_none()
        return row

    async def add(self, row: RowT) -> RowT:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def delete(self, row: RowT) -> None:
        await self.session.delete(row)
        await self.session.flush()
