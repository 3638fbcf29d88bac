"""Keyset pagination: `?limit=&cursor=` in, `{items, next_cursor}` out, stable under inserts.

The cursor is the sort key of the last row returned, base64url-encoded JSON: opaque to clients,
validated on the way back in (a tampered or foreign cursor is a 422, never a 500).
"""

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import AppError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

ItemT = TypeVar("ItemT")
SortKey = ColumnElement[Any] | InstrumentedAttribute[Any]
RowT = TypeVar("RowT")


class InvalidCursorError(AppError):
    status_code = 422
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not valid for this list; start again without it.")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode_value(raw: Any, python_type: type) -> Any:
    if python_type is datetime:
        return datetime.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, python_type):
        raise TypeError(raw)
    return raw


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise InvalidCursorError()
        return [_decode_value(v, t) for v, t in zip(values, types, strict=True)]
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursorError() from exc


async def paginate_rows(
    session: AsyncSession,
    statement: Select[Any],
    sort_keys: Sequence[SortKey],
    params: PageParams,
) -> tuple[list[Row[Any]], str | None]:
    """Rows in descending order of `sort_keys` (expressions allowed, e.g. a search rank).

    The last key must be unique (the id). Each row gets the key values appended as extra
    columns, which become the next cursor.
    """
    types = [key.type.python_type for key in sort_keys]
    if params.cursor is not None:
        after = decode_cursor(params.cursor, types)
        statement = statement.where(tuple_(*sort_keys) < tuple_(*after))
    statement = (
        statement.add_columns(*(key.label(f"_sort_{n}") for n, key in enumerate(sort_keys)))
        .order_by(*(key.desc() for key in sort_keys))
        .limit(params.limit + 1)
    )
    rows = list((await session.execute(statement)).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    return rows, encode_cursor(list(rows[-1][-len(sort_keys) :]))


async def paginate(
    session: AsyncSession,
    statement: Select[tuple[RowT]],
    sort_keys: Sequence[SortKey],
    params: PageParams,
) -> tuple[list[RowT], str | None]:
    """Entities newest first by `sort_keys` (the last key must be unique, e.g. the id)."""
    rows, cursor = await paginate_rows(session, statement, sort_keys, params)
    return [row[0] for row in rows], cursor
