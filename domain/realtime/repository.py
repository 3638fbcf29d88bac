from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from domain.realtime.models import RealtimeTicket


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, ticket: RealtimeTicket) -> None:
        self.session.add(ticket)
        await self.session.flush()

    async def take(self, digest: str) -> RealtimeTicket | None:
        """Delete and return the ticket: of two concurrent redeemers, one gets it."""
        result = await self.session.execute(
            delete(RealtimeTicket).where(RealtimeTicket.digest == digest).returning(RealtimeTicket)
        )
        return result.scalar_one_or_none()

    async def delete_expired(self, now: datetime) -> None:
        await self.session.execute(delete(RealtimeTicket).where(RealtimeTicket.expires_at <= now))
