import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import (
    InvalidCursorError,
    PageParams,
    decode_cursor,
    encode_cursor,
    paginate,
)
from domain.users.models import User
from tests.fixtures.factories.users import create_user

SORT_KEYS = (User.created_at, User.id)


async def _walk(session: AsyncSession, limit: int, insert_between_pages: int) -> list[User]:
    seen: list[User] = []
    cursor = None
    while True:
        rows, cursor = await paginate(
            session, select(User), SORT_KEYS, PageParams(limit=limit, cursor=cursor)
        )
        seen.extend(rows)
        for _ in range(insert_between_pages):
            await create_user(session)
        if cursor is None:
            return seen


async def test_keyset_pages_cover_everything_once_while_rows_are_inserted(
    db_session: AsyncSession,
) -> None:
    originals = [await create_user(db_session) for _ in range(25)]
    seen = await _walk(db_session, limit=10, insert_between_pages=2)
    ids = [user.id for user in seen]
    assert len(ids) == len(set(ids)), "a row appeared twice"
    # Rows inserted during the walk are newer than the cursor and never shift a page.
    assert ids == [user.id for user in reversed(originals)]


async def test_last_page_has_no_cursor(db_session: AsyncSession) -> None:
    for _ in range(3):
        await create_user(db_session)
    rows, cursor = await paginate(db_session, select(User), SORT_KEYS, PageParams(limit=3))
    assert len(rows) == 3
    assert cursor is None


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "", "e30", encode_cursor(["not-a-date", "x"]), encode_cursor([1]), "%%%%"],
)
def test_garbage_cursors_are_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor, [key.type.python_type for key in SORT_KEYS])
