"""A turn finishes only while its claim on the conversation stands."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import RunInProgressError
from domain.conversations.models import Conversation
from domain.conversations.service import ConversationService
from tests.fixtures.factories.users import create_user

LEASE = timedelta(minutes=5)


async def test_a_turn_that_outlived_its_lease_cannot_finish(db_session: AsyncSession) -> None:
    user = await create_user(db_session)
    conversations = ConversationService(db_session, LEASE)
    first = await conversations.start_turn(user.id, None, "Hello")
    await conversations.finish_turn(first, "checkpoint-1")

    slow = await conversations.start_turn(user.id, first.id, "A slow turn")
    # Its lease ran out and another turn took the conversation over.
    await db_session.execute(
        update(Conversation)
        .where(Conversation.id == first.id)
        .values(running_since=datetime.now(UTC) + timedelta(seconds=1))
        # Another process did it: the slow turn's own objects do not see it.
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(RunInProgressError):
        await conversations.finish_turn(slow, "checkpoint-2")

    await db_session.refresh(first)
    assert (first.head_checkpoint_id, first.turn_count) == ("checkpoint-1", 1)


async def test_a_finished_turn_moves_the_head_and_releases_the_claim(
    db_session: AsyncSession,
) -> None:
    user = await create_user(db_session)
    conversations = ConversationService(db_session, LEASE)
    conversation = await conversations.start_turn(user.id, None, "Hello")
    await conversations.finish_turn(conversation, "checkpoint-1")
    again = await conversations.start_turn(user.id, conversation.id, "Again")
    await conversations.finish_turn(again, "checkpoint-2")

    await db_session.refresh(conversation)
    assert conversation.head_checkpoint_id == "checkpoint-2"
    assert conversation.turn_count == 2
    assert conversation.running_since is None
