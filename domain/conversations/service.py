import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.errors import NotFoundError, RunInProgressError
from core.pagination import PageParams
from domain.conversations.models import Conversation
from domain.conversations.repository import ConversationRepository

TITLE_CHARS = 80


class ConversationNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Conversation not found.")


def _run_in_progress() -> RunInProgressError:
    return RunInProgressError(
        "A reply in this conversation is still being written; send the next message after it."
    )


class ConversationService:
    def __init__(self, session: AsyncSession, run_lease: timedelta) -> None:
        self.conversations = ConversationRepository(session)
        self.run_lease = run_lease

    async def start_turn(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID | None, message: str
    ) -> Conversation:
        """The conversation marked as running a turn; a new one when no id is given.

        409 while another turn runs. A mark older than the lease is taken as abandoned (the
        process running it died), so a conversation never stays locked.
        """
        now = datetime.now(UTC)
        if conversation_id is None:
            conversation = Conversation(
                user_id=user_id, title=_title(message), turn_count=0, running_since=now
            )
            await self.conversations.add(conversation)
            return conversation
        conversation = await self.get(user_id, conversation_id)
        if not await self.conversations.claim(user_id, conversation.id, now, now - self.run_lease):
            raise _run_in_progress()
        # The claim's own mark (already in the row): finishing checks it still stands.
        set_committed_value(conversation, "running_since", now)
        return conversation

    async def open(self, user_id: uuid.UUID, title: str) -> Conversation:
        """A conversation with no turn yet, for a channel that starts before its first message
        (voice)."""
        conversation = Conversation(user_id=user_id, title=title, turn_count=0)
        await self.conversations.add(conversation)
        return conversation

    async def finish_turn(self, conversation: Conversation, head_checkpoint_id: str) -> None:
        assert conversation.running_since is not None  # set by start_turn
        if not await self.conversations.finish(
            conversation.id, conversation.running_since, head_checkpoint_id
        ):
            raise _run_in_progress()

    async def abandon_turn(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, *, keep_empty: bool = False
    ) -> bool:
        """Clear the running mark. A conversation whose first turn failed goes entirely (True):
        it holds nothing to come back to, unless `keep_empty` (one opened ahead of its first
        turn, which something else refers to). Its checkpoints are the caller's to delete."""
        conversation = await self.get(user_id, conversation_id)
        if conversation.turn_count == 0 and not keep_empty:
            await self.conversations.delete(conversation)
            return True
        conversation.running_since = None
        await self.conversations.session.flush()
        return False

    async def get(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
        conversation = await self.conversations.get_owned(user_id, conversation_id)
        if conversation is None:
            raise ConversationNotFoundError()
        return conversation

    async def page(
        self, user_id: uuid.UUID, params: PageParams
    ) -> tuple[list[Conversation], str | None]:
        return await self.conversations.page(user_id, params)

    async def delete(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        conversation = await self.get(user_id, conversation_id)
        stale_before = datetime.now(UTC) - self.run_lease
        if conversation.running_since is not None and conversation.running_since >= stale_before:
            raise _run_in_progress()
        await self.conversations.delete(conversation)


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"
