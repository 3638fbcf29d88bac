import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)

from core.schemas import StrictModel
from domain.schedule.recurrence import EARLIEST, LATEST, RecurrenceError, normalise_rrule
from domain.users.schemas import TimeZoneName

BlockKind = Literal["study", "class", "break", "other"]


def _within_supported_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year - 1}")
    return value


def storable_text(value: str) -> str:
    # Postgres text cannot hold NUL; refusing it here keeps it a 422 instead of a 500.
    # (Lone surrogates, the other unstorable text, are already refused by pydantic.)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _valid_rrule(value: str) -> str:
    try:
        return normalise_rrule(value)
    except RecurrenceError as exc:
        raise ValueError(exc.message) from exc


SupportedDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_within_supported_range),
    Field(description="ISO 8601 with a UTC offset, e.g. 2025-03-31T09:00:00+02:00."),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(storable_text),
]
RecurrenceRule = Annotated[
    str,
    Field(
        max_length=500,
        description="An RFC 5545 RRULE without DTSTART, e.g. FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10. "
        "FREQ is DAILY, WEEKLY, MONTHLY or YEARLY; COUNT and UNTIL exclude each other.",
        examples=["FREQ=WEEKLY;BYDAY=MO"],
    ),
    AfterValidator(_valid_rrule),
]


class ScheduleBlockCreate(StrictModel):
    title: Title
    start: SupportedDatetime
    end: SupportedDatetime
    timezone: TimeZoneName | None = Field(
        default=None, description="Zone the series repeats in; defaults to the user's zone."
    )
    recurrence: RecurrenceRule | None = None
    course_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    kind: BlockKind


class ScheduleBlockUpdate(StrictModel):
    """Fields left out stay as they are; `recurrence: null` ends the repetition.

    `start` alone moves the block keeping its duration; `end` alone changes only the end.
    """

    title: Title | None = None
    start: SupportedDatetime | None = None
    end: SupportedDatetime | None = None
    timezone: TimeZoneName | None = None
    recurrence: RecurrenceRule | None = None
    kind: BlockKind | None = None
    course_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        for field in ("title", "start", "end", "timezone", "kind"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class OccurrenceUpdate(StrictModel):
    """`start` alone moves the occurrence keeping its duration; `end` alone changes the end."""

    start: SupportedDatetime | None = None
    end: SupportedDatetime | None = None
    title: Title | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of start, end, title")
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ScheduleExceptionRead(BaseModel):
    original_start: datetime = Field(description="The occurrence's start as the rule generates it.")
    cancelled: bool
    start: datetime | None = Field(description="New start when moved.")
    end: datetime | None = Field(description="New end when moved.")
    title: str | None = Field(description="New title when retitled.")


class ScheduleBlockRead(BaseModel):
    """A block; times are shown in the block's own zone."""

    id: uuid.UUID
    title: str
    start: datetime = Field(description="Start of the first occurrence.")
    end: datetime = Field(description="End of the first occurrence.")
    timezone: str
    recurrence: str | None
    recurring: bool
    series_until: datetime | None = Field(
        description="End of the last occurrence; null when the series has no end."
    )
    kind: BlockKind
    course_id: uuid.UUID | None
    goal_id: uuid.UUID | None
    exceptions: list[ScheduleExceptionRead]
    created_at: datetime
    updated_at: datetime


class Conflict(BaseModel):
    """An occurrence of another of the caller's blocks overlapping this one."""

    block_id: uuid.UUID
    title: str
    start: datetime
    end: datetime


class ScheduleBlockWithConflicts(ScheduleBlockRead):
    conflicts: list[Conflict] = Field(
        description="Overlaps with the caller's other blocks; for a series, checked over its "
        "first 90 days. Overlaps are allowed, only reported."
    )


class OccurrenceRead(BaseModel):
    """One occurrence, in the user's time zone."""

    block_id: uuid.UUID
    title: str
    start: datetime
    end: datetime
    original_start: datetime = Field(
        description="Identifies the occurrence in /schedule/{id}/occurrences/{original_start}."
    )
    kind: BlockKind
    is_exception: bool = Field(description="True when this occurrence was moved or retitled.")
    recurring: bool
    course_id: uuid.UUID | None
    goal_id: uuid.UUID | None


class OccurrenceWithConflicts(OccurrenceRead):
    conflicts: list[Conflict]


class ScheduleList(BaseModel):
    items: list[OccurrenceRead]
