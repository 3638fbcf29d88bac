import uuid
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.conversations.models import Conversation


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> Conversation | None:
        statement = select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def page(
        self, user_id: uuid.UUID, params: PageParams
    ) -> tuple[list[Conversation], str | None]:
        statement = select(Conversation).where(Conversation.user_id == user_id)
        return await paginate(
            self.session, statement, (Conversation.created_at, Conversation.id), params
        )

    async def add(self, conversation: Conversation) -> None:
        self.session.add(conversation)
        await self.session.flush()

    async def claim(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark a turn as running, atomically: false when one already runs (and is not stale)."""
        statement = (
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.user_id == user_id,
                or_(
                    Conversation.running_since.is_(None),
                    Conversation.running_since < stale_before,
                ),
            )
            .values(running_since=now)
            .returning(Conversation.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def finish(self, conversation_id: uuid.UUID, claimed_at: datetime, head: str) -> bool:
        """Record a finished turn, if its claim still stands: false when the turn outlived its
        lease and another one took the conversation over."""
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.running_since == claimed_at)
            .values(
                head_checkpoint_id=head,
                turn_count=Conversation.turn_count + 1,
                running_since=None,
            )
            .returning(Conversation.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def delete(self, conversation: Conversation) -> None:
        await self.session.delete(conversation)
        await self.session.flush()
