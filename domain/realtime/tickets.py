"""One-use websocket tickets: a short-lived secret a client trades its bearer token for, then
sends as the socket's first message, so no token ever appears in a URL (or a proxy's log).

A ticket is valid for `ttl` seconds and redeems once: Redis `SET .. EX` + `GETDEL` when
`REDIS_URL` is set, else a Postgres row deleted on redemption (`DELETE .. RETURNING`). Either
way two racing redeemers cannot both win, and only a digest of the ticket is stored.
"""

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import unit_of_work
from core.security import hash_token
from domain.realtime.models import RealtimeTicket
from domain.realtime.repository import TicketRepository

REDIS_KEY_PREFIX = "studypilot:ws-ticket:"


@dataclass(frozen=True)
class TicketGrant:
    """Who a ticket lets in, and the sign-in (refresh-token family) the socket lives by."""

    user_id: uuid.UUID
    family_id: uuid.UUID


class TicketStore(Protocol):
    ttl_seconds: int

    async def issue(self, grant: TicketGrant) -> str: ...

    async def redeem(self, ticket: str) -> TicketGrant | None:
        """The grant, once; None for an unknown, used or expired ticket."""
        ...


def new_ticket() -> str:
    return secrets.token_urlsafe(32)


class RedisTicketStore:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds

    async def issue(self, grant: TicketGrant) -> str:
        ticket = new_ticket()
        value = json.dumps({"user_id": str(grant.user_id), "family_id": str(grant.family_id)})
        await self._redis.set(REDIS_KEY_PREFIX + hash_token(ticket), value, ex=self.ttl_seconds)
        return ticket

    async def redeem(self, ticket: str) -> TicketGrant | None:
        value = await self._redis.getdel(REDIS_KEY_PREFIX + hash_token(ticket))
        if value is None:
            return None
        stored = json.loads(value)
        return TicketGrant(uuid.UUID(stored["user_id"]), uuid.UUID(stored["family_id"]))


class PostgresTicketStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl_seconds: int) -> None:
        self._sessionmaker = sessionmaker
        self.ttl_seconds = ttl_seconds

    async def issue(self, grant: TicketGrant) -> str:
        ticket = new_ticket()
        now = datetime.now(UTC)
        async with unit_of_work(self._sessionmaker) as session:
            tickets = TicketRepository(session)
            # Unredeemed tickets would otherwise pile up; issuing sweeps them.
            await tickets.delete_expired(now)
            await tickets.add(
                RealtimeTicket(
                    digest=hash_token(ticket),
                    user_id=grant.user_id,
                    family_id=grant.family_id,
                    expires_at=now + timedelta(seconds=self.ttl_seconds),
                )
            )
        return ticket

    async def redeem(self, ticket: str) -> TicketGrant | None:
        async with unit_of_work(self._sessionmaker) as session:
            stored = await TicketRepository(session).take(hash_token(ticket))
        if stored is None or stored.expires_at <= datetime.now(UTC):
            return None
        return TicketGrant(stored.user_id, stored.family_id)
