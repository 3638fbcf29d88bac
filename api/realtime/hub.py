"""What one API process knows about its sockets: who is connected (for the per-user cap), and
which sign-ins they live by, checked against logouts on a timer."""

import asyncio
import uuid
from collections import defaultdict
from typing import Protocol

import structlog
from starlette.datastructures import State

from api.realtime.chat import SocketChats
from api.realtime.protocol import CloseCode
from core.config import Settings
from core.db import unit_of_work
from domain.auth.repository import RefreshTokenRepository

log = structlog.get_logger(__name__)


class Closable(Protocol):
    user_id: uuid.UUID
    family_id: uuid.UUID

    def close_soon(self, code: CloseCode, reason: str) -> None: ...


class RealtimeHub:
    def __init__(self, state: State, settings: Settings) -> None:
        self._state = state
        self._settings = settings
        self._by_user: dict[uuid.UUID, set[Closable]] = defaultdict(set)
        self._checker: asyncio.Task[None] | None = None
        self.chats = SocketChats(state)

    def admit(self, connection: Closable) -> bool:
        """False when the user already holds the maximum number of sockets here."""
        held = self._by_user[connection.user_id]
        if len(held) >= self._settings.realtime_connections_per_user:
            return False
        held.add(connection)
        if self._checker is None or self._checker.done():
            self._checker = asyncio.create_task(self._check_sessions(), name="realtime-sessions")
        return True

    def release(self, connection: Closable) -> None:
        held = self._by_user.get(connection.user_id)
        if held is None:
            return
        held.discard(connection)
        if not held:
            del self._by_user[connection.user_id]

    @property
    def connection_count(self) -> int:
        return sum(len(held) for held in self._by_user.values())

    async def _check_sessions(self) -> None:
        """Close the sockets of sign-ins that ended (logout, token reuse, deleted user)."""
        while True:
            await asyncio.sleep(self._settings.realtime_session_check_seconds)
            connections = [c for held in self._by_user.values() for c in held]
            if not connections:
                continue
            try:
                async with unit_of_work(self._state.sessionmaker) as session:
                    revoked = await RefreshTokenRepository(session).revoked_families(
                        {c.family_id for c in connections}
                    )
            except Exception:
                log.warning("realtime_session_check_failed", exc_info=True)
                continue
            for connection in connections:
                if connection.family_id in revoked:
                    connection.close_soon(CloseCode.UNAUTHORIZED, "session ended")

    async def aclose(self) -> None:
        for connection in [c for held in self._by_user.values() for c in held]:
            connection.close_soon(CloseCode.GOING_AWAY, "server shutting down")
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)
        await self.chats.aclose()
