import uuid
from datetime import datetime, time
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    model_validator,
)

from core.schemas import StrictModel


# A wall-clock time of the user's zone. Documented as a pattern, not JSON Schema's `time`
# format, which requires an offset that a local time does not have.
def _no_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give a local time without an offset; the user's zone applies")
    return value


LocalTime = Annotated[
    time,
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": "Local time, HH:MM or HH:MM:SS (answered as HH:MM:SS).",
        }
    ),
]
MIN_PASSWORD_LENGTH = 8
# Argon2 hashes any length, but unbounded input is a cheap way to burn CPU.
MAX_PASSWORD_LENGTH = 128


# Files of the system's zone database that are not IANA zone names; Postgres rejects them.
_NOT_ZONE_NAMES = frozenset({"localtime", "posixrules", "Factory"})
IANA_ZONE_NAMES = frozenset(available_timezones() - _NOT_ZONE_NAMES)


def _known_timezone(value: str) -> str:
    # ZoneInfo also accepts file-system paths; the IANA list is the contract.
    if value not in IANA_ZONE_NAMES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[
    str,
    # The enum tells clients (and generated forms) exactly which names are accepted.
    Field(max_length=64, json_schema_extra={"enum": sorted(IANA_ZONE_NAMES)}),
    AfterValidator(_known_timezone),
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]


class AvailableHours(StrictModel):
    """A weekly window the user can study in, in their own time zone."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class StudyPreferences(StrictModel):
    preferred_session_minutes: int = Field(default=45, ge=10, le=240)
    max_daily_minutes: int | None = Field(default=None, ge=10, le=24 * 60)
    break_minutes: int = Field(default=10, ge=0, le=120)
    available_hours: list[AvailableHours] = Field(default_factory=list, max_length=7 * 8)


class WeeklyTime(StrictModel):
    """A time of the week in the user's zone."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    time: LocalTime


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: EmailStr
    name: str | None
    timezone: str
    study_preferences: StudyPreferences
    morning_agenda_at: LocalTime | None = Field(
        description="Local time of the daily morning agenda notification; null: off."
    )
    weekly_review_at: WeeklyTime | None = Field(
        description="Local weekday and time of the weekly review notification; null: off."
    )
    created_at: datetime
    updated_at: datetime


class UserUpdate(StrictModel):
    """Fields left out stay as they are; `name: null` clears the name."""

    name: DisplayName | None = None
    timezone: TimeZoneName | None = None
    study_preferences: StudyPreferences | None = None
    morning_agenda_at: LocalTime | None = Field(
        default=None, description="Local time for the daily agenda; null turns it off."
    )
    weekly_review_at: WeeklyTime | None = Field(
        default=None, description="Local weekday and time for the weekly review; null: off."
    )

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> Self:
        for field in ("timezone", "study_preferences"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self
