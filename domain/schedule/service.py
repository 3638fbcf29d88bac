"""Schedule rules: blocks and their series, one-occurrence exceptions, conflicts, day windows.

Everything is scoped to the caller: another user's block answers 404, as does a course or goal
the caller may not use. Overlapping blocks are allowed and reported as `conflicts`.
"""

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, NotFoundError
from domain.courses.repository import CourseRepository
from domain.schedule.models import ScheduleBlock, ScheduleException
from domain.schedule.recurrence import (
    EARLIEST,
    LATEST,
    MAX_BLOCK_DURATION,
    Occurrence,
    Override,
    RecurrenceError,
    Series,
    find_conflicts,
    local_day_bounds,
)
from domain.schedule.repository import ScheduleRepository
from domain.schedule.schemas import (
    Conflict,
    OccurrenceRead,
    OccurrenceUpdate,
    OccurrenceWithConflicts,
    ScheduleBlockCreate,
    ScheduleBlockRead,
    ScheduleBlockUpdate,
    ScheduleBlockWithConflicts,
    ScheduleExceptionRead,
    ScheduleList,
)
from domain.users.models import User

MAX_WINDOW_DAYS = 92


class ScheduleValidationError(AppError):
    """A 422 found past schema validation, in the same shape: `details` lists each bad field."""

    status_code = 422
    code = "validation_error"

    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(
            "The request has invalid or missing fields.",
            [{"loc": loc, "message": message, "type": "value_error"}],
        )


def _block_not_found() -> NotFoundError:
    return NotFoundError("Schedule block not found.")


def _occurrence_not_found() -> NotFoundError:
    return NotFoundError("This block has no occurrence starting at that time.")


def _overrides(block: ScheduleBlock) -> dict[datetime, Override]:
    return {
        exception.original_start: Override(
            original_start=exception.original_start,
            cancelled=exception.cancelled,
            new_start=exception.new_start,
            new_end=exception.new_end,
            new_title=exception.new_title,
        )
        for exception in block.exceptions
    }


def _series(block: ScheduleBlock) -> Series:
    return Series(block.start_at, block.end_at, block.timezone, block.rrule)


def _validated_series(start: datetime, end: datetime, timezone: str, rrule: str | None) -> Series:
    try:
        series = Series(start, end, timezone, rrule)
        series.validate()
    except RecurrenceError as exc:
        raise ScheduleValidationError(["body", exc.field], exc.message) from exc
    return series


class ScheduleService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.blocks = ScheduleRepository(session)

    async def list_occurrences(
        self,
        user: User,
        *,
        on: date | None = None,
        from_: date | None = None,
        to: date | None = None,
    ) -> ScheduleList:
        """Occurrences overlapping whole local days of the user's zone, sorted by start."""
        first, last = self._window_days(on, from_, to)
        zone = ZoneInfo(user.timezone)
        window_start, window_end = local_day_bounds(first, last, zone)
        found: list[tuple[ScheduleBlock, Occurrence]] = []
        for block in await self.blocks.overlapping(user.id, window_start, window_end):
            series = _series(block)
            for occurrence in series.expand(_overrides(block), window_start, window_end):
                found.append((block, occurrence))
        found.sort(key=lambda item: (item[1].start, item[1].end, str(item[0].id)))
        return ScheduleList(items=[_occurrence_read(b, o, zone) for b, o in found])

    @staticmethod
    def _window_days(on: date | None, from_: date | None, to: date | None) -> tuple[date, date]:
        if on is not None:
            if from_ is not None or to is not None:
                raise ScheduleValidationError(
                    ["query", "date"], "give either date, or from and to, not both"
                )
            first, last = on, on
        elif from_ is not None and to is not None:
            first, last = from_, to
        else:
            missing = "to" if from_ is not None else "from" if to is not None else "date"
            raise ScheduleValidationError(["query", missing], "give date, or both from and to")
        if last < first:
            raise ScheduleValidationError(["query", "to"], "to must not be before from")
        if (last - first).days + 1 > MAX_WINDOW_DAYS:
            raise ScheduleValidationError(
                ["query", "to"], f"a window spans at most {MAX_WINDOW_DAYS} days"
            )
        # A day of margin keeps every zone's local midnight inside the supported range.
        if first <= EARLIEST.date() or last >= (LATEST - timedelta(days=1)).date():
            raise ScheduleValidationError(
                ["query", "date" if on is not None else "from"],
                f"dates must be between {EARLIEST.year} and {LATEST.year - 1}",
            )
        return first, last

    async def get(self, user: User, block_id: uuid.UUID) -> ScheduleBlockRead:
        block = await self.blocks.get_owned(user.id, block_id)
        if block is None:
            raise _block_not_found()
        return _block_read(block)

    async def create(self, user: User, data: ScheduleBlockCreate) -> ScheduleBlockWithConflicts:
        timezone = data.timezone or user.timezone
        series = _validated_series(data.start, data.end, timezone, data.recurrence)
        await self._check_links(user, data.course_id, data.goal_id)
        block = ScheduleBlock(
            user_id=user.id,
            title=data.title,
            start_at=series.start,
            end_at=series.end,
            timezone=timezone,
            rrule=data.recurrence,
            series_until=series.series_until(),
            kind=data.kind,
            course_id=data.course_id,
            goal_id=data.goal_id,
            exceptions=[],
        )
        await self.blocks.add(block)
        await self.session.refresh(block, ["created_at", "updated_at"])
        conflicts = await self._conflicts(user, block.id, series.horizon({}))
        return ScheduleBlockWithConflicts(**_block_fields(block), conflicts=conflicts)

    async def update(
        self, user: User, block_id: uuid.UUID, changes: ScheduleBlockUpdate
    ) -> ScheduleBlockWithConflicts:
        block = await self.blocks.get_owned(user.id, block_id, for_update=True)
        if block is None:
            raise _block_not_found()
        fields = changes.model_fields_set
        start = changes.start if changes.start is not None else block.start_at
        if changes.end is not None:
            end = changes.end
        elif changes.start is not None:
            end = changes.start + (block.end_at - block.start_at)
        else:
            end = block.end_at
        timezone = changes.timezone or block.timezone
        rrule = changes.recurrence if "recurrence" in fields else block.rrule
        series = _validated_series(start, end, timezone, rrule)
        await self._check_links(
            user,
            changes.course_id if "course_id" in fields else None,
            changes.goal_id if "goal_id" in fields else None,
        )

        timing_changed = (series.start, timezone, rrule) != (
            block.start_at,
            block.timezone,
            block.rrule,
        )
        if changes.title is not None:
            block.title = changes.title
        if changes.kind is not None:
            block.kind = changes.kind
        if "course_id" in fields:
            block.course_id = changes.course_id
        if "goal_id" in fields:
            block.goal_id = changes.goal_id
        block.start_at, block.end_at = series.start, series.end
        block.timezone, block.rrule = timezone, rrule
        block.series_until = series.series_until()
        if timing_changed:
            # Exceptions stay attached to occurrences the new series still generates.
            for exception in list(block.exceptions):
                if not series.is_occurrence(exception.original_start):
                    block.exceptions.remove(exception)
        await self.session.flush()
        await self.session.refresh(block, ["updated_at"])
        conflicts = await self._conflicts(user, block.id, series.horizon(_overrides(block)))
        return ScheduleBlockWithConflicts(**_block_fields(block), conflicts=conflicts)

    async def delete(self, user: User, block_id: uuid.UUID) -> None:
        block = await self.blocks.get_owned(user.id, block_id, for_update=True)
        if block is None:
            raise _block_not_found()
        await self.blocks.delete(block)

    async def _occurrence_target(
        self, user: User, block_id: uuid.UUID, original_start: datetime
    ) -> tuple[ScheduleBlock, Series, datetime, ScheduleException | None]:
        block = await self.blocks.get_owned(user.id, block_id, for_update=True)
        if block is None:
            raise _block_not_found()
        series = _series(block)
        original = original_start.astimezone(UTC)
        if not series.is_occurrence(original):
            raise _occurrence_not_found()
        existing = next((e for e in block.exceptions if e.original_start == original), None)
        if existing is not None and existing.cancelled:
            raise NotFoundError("This occurrence was cancelled.")
        return block, series, original, existing

    async def update_occurrence(
        self,
        user: User,
        block_id: uuid.UUID,
        original_start: datetime,
        changes: OccurrenceUpdate,
    ) -> OccurrenceWithConflicts:
        """Moves and/or retitles one occurrence; a second edit updates the same exception."""
        block, series, original, existing = await self._occurrence_target(
            user, block_id, original_start
        )
        current = series.occurrence(original, _overrides(block))
        assert current is not None
        start = changes.start.astimezone(UTC) if changes.start is not None else current.start
        if changes.end is not None:
            end = changes.end.astimezone(UTC)
        elif changes.start is not None:
            end = start + (current.end - current.start)
        else:
            end = current.end
        if end <= start:
            raise ScheduleValidationError(["body", "end"], "end must be after start")
        if end - start > MAX_BLOCK_DURATION:
            raise ScheduleValidationError(["body", "end"], "a block lasts at most 24 hours")
        moved = changes.start is not None or changes.end is not None
        if existing is None:
            existing = ScheduleException(original_start=original, cancelled=False)
            block.exceptions.append(existing)
        if moved or existing.new_start is not None:
            existing.new_start, existing.new_end = start, end
        if changes.title is not None:
            existing.new_title = changes.title
        await self.session.flush()

        occurrence = series.occurrence(original, _overrides(block))
        assert occurrence is not None
        zone = ZoneInfo(user.timezone)
        conflicts = await self._conflicts(user, block.id, [occurrence])
        return OccurrenceWithConflicts(
            **_occurrence_read(block, occurrence, zone).model_dump(), conflicts=conflicts
        )

    async def cancel_occurrence(
        self, user: User, block_id: uuid.UUID, original_start: datetime
    ) -> None:
        block, _, original, existing = await self._occurrence_target(user, block_id, original_start)
        if existing is None:
            existing = ScheduleException(original_start=original)
            block.exceptions.append(existing)
        existing.cancelled = True
        existing.new_start = existing.new_end = None
        existing.new_title = None
        await self.session.flush()

    async def _check_links(
        self, user: User, course_id: uuid.UUID | None, goal_id: uuid.UUID | None
    ) -> None:
        if course_id is not None and not await CourseRepository(self.session).usable_by(
            user.id, course_id
        ):
            raise NotFoundError("Course not found.")
        if goal_id is not None and not await self.blocks.goal_owned_by(user.id, goal_id):
            raise NotFoundError("Goal not found.")

    async def _conflicts(
        self, user: User, block_id: uuid.UUID, mine: list[Occurrence]
    ) -> list[Conflict]:
        if not mine:
            return []
        window_start = min(occurrence.start for occurrence in mine)
        window_end = max(occurrence.end for occurrence in mine)
        others = await self.blocks.overlapping(
            user.id, window_start, window_end, exclude_id=block_id
        )
        candidates: Iterable[tuple[ScheduleBlock, Occurrence]] = (
            (other, occurrence)
            for other in others
            for occurrence in _series(other).expand(_overrides(other), window_start, window_end)
        )
        zone = ZoneInfo(user.timezone)
        return [
            Conflict(
                block_id=other.id,
                title=occurrence.title or other.title,
                start=occurrence.start.astimezone(zone),
                end=occurrence.end.astimezone(zone),
            )
            for other, occurrence in find_conflicts(mine, candidates)
        ]


def _block_fields(block: ScheduleBlock) -> dict[str, Any]:
    zone = ZoneInfo(block.timezone)

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(zone) if value is not None else None

    exceptions = sorted(block.exceptions, key=lambda exception: exception.original_start)
    return {
        "id": block.id,
        "title": block.title,
        "start": block.start_at.astimezone(zone),
        "end": block.end_at.astimezone(zone),
        "timezone": block.timezone,
        "recurrence": block.rrule,
        "recurring": block.rrule is not None,
        "series_until": local(block.series_until),
        "kind": block.kind,
        "course_id": block.course_id,
        "goal_id": block.goal_id,
        "exceptions": [
            ScheduleExceptionRead(
                original_start=exception.original_start.astimezone(zone),
                cancelled=exception.cancelled,
                start=local(exception.new_start),
                end=local(exception.new_end),
                title=exception.new_title,
            )
            for exception in exceptions
        ],
        "created_at": block.created_at,
        "updated_at": block.updated_at,
    }


def _block_read(block: ScheduleBlock) -> ScheduleBlockRead:
    return ScheduleBlockRead(**_block_fields(block))


def _occurrence_read(
    block: ScheduleBlock, occurrence: Occurrence, zone: ZoneInfo
) -> OccurrenceRead:
    return OccurrenceRead.model_validate(
        {
            "block_id": block.id,
            "title": occurrence.title or block.title,
            "start": occurrence.start.astimezone(zone),
            "end": occurrence.end.astimezone(zone),
            "original_start": occurrence.original_start.astimezone(zone),
            "kind": block.kind,
            "is_exception": occurrence.is_exception,
            "recurring": block.rrule is not None,
            "course_id": block.course_id,
            "goal_id": block.goal_id,
        }
    )
