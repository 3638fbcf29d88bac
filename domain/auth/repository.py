import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth.models import RefreshToken


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get(self, token_id: uuid.UUID) -> RefreshToken | None:
        return await self.session.get(RefreshToken, token_id)

    async def get_for_update(self, token_id: uuid.UUID) -> RefreshToken | None:
        # The row lock makes two concurrent uses of one token resolve as one rotation + one reuse.
        result = await self.session.execute(
            select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoked_families(self, family_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `family_ids` that were revoked (logout, reuse) or whose user is gone."""
        if not family_ids:
            return set()
        live = await self.session.scalars(
            select(RefreshToken.family_id)
            .where(RefreshToken.family_id.in_(family_ids))
            .group_by(RefreshToken.family_id)
            .having(func.count(RefreshToken.revoked_at) == 0)
        )
        return set(family_ids) - set(live)
