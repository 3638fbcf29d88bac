import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.voice.models import VoiceSession, VoiceTranscriptLine, VoiceWebhookEvent


class VoiceSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, voice_session: VoiceSession) -> None:
        self.session.add(voice_session)
        await self.session.flush()

    async def get(self, voice_session_id: uuid.UUID) -> VoiceSession | None:
        return await self.session.get(VoiceSession, voice_session_id)

    async def by_room_for_update(self, room: str) -> VoiceSession | None:
        # Locked: LiveKit may deliver a room's events concurrently.
        statement = select(VoiceSession).where(VoiceSession.room == room).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def page(
        self, user_id: uuid.UUID, params: PageParams
    ) -> tuple[list[VoiceSession], str | None]:
        statement = select(VoiceSession).where(VoiceSession.user_id == user_id)
        return await paginate(
            self.session, statement, (VoiceSession.created_at, VoiceSession.id), params
        )

    async def for_conversation(self, conversation_id: uuid.UUID) -> list[VoiceSession]:
        statement = (
            select(VoiceSession)
            .where(VoiceSession.conversation_id == conversation_id)
            .order_by(VoiceSession.created_at, VoiceSession.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def add_line(self, line: VoiceTranscriptLine) -> None:
        self.session.add(line)
        await self.session.flush()

    async def lines(self, voice_session_ids: list[uuid.UUID]) -> list[VoiceTranscriptLine]:
        if not voice_session_ids:
            return []
        statement = (
            select(VoiceTranscriptLine)
            .where(VoiceTranscriptLine.voice_session_id.in_(voice_session_ids))
            .order_by(VoiceTranscriptLine.created_at, VoiceTranscriptLine.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def remember_event(self, event: VoiceWebhookEvent) -> bool:
        """Record an event id once: false when it was already there (a redelivery)."""
        statement = (
            insert(VoiceWebhookEvent)
            .values(
                event_id=event.event_id,
                event=event.event,
                room=event.room,
                created_at=event.created_at,
            )
            .on_conflict_do_nothing(index_elements=[VoiceWebhookEvent.event_id])
            .returning(VoiceWebhookEvent.event_id)
        )
        return (await self.session.execute(statement)).first() is not None
