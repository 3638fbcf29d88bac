import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import StrictModel

Visibility = Literal["private", "public"]
MAX_MODULES_PER_COURSE = 200


class ModuleCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    content: str | None = Field(default=None, max_length=200_000)
    estimated_minutes: int | None = Field(default=None, ge=1, le=10_000)
    position: int | None = Field(
        default=None, ge=0, description="0-based; omitted: appended at the end."
    )


class ModuleUpdate(StrictModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    content: str | None = Field(default=None, max_length=200_000)
    estimated_minutes: int | None = Field(default=None, ge=1, le=10_000)
    position: int | None = Field(
        default=None, ge=0, description="Move the module here; the others shift to make room."
    )


class ModuleOrder(StrictModel):
    module_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=MAX_MODULES_PER_COURSE,
        description="Every module of the course, in the new order.",
    )


class CourseCreate(StrictModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    visibility: Visibility = "private"
    modules: list[ModuleCreate] = Field(default_factory=list, max_length=MAX_MODULES_PER_COURSE)


class CourseUpdate(StrictModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    visibility: Visibility | None = None


class ModuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    content: str | None
    estimated_minutes: int | None
    position: int
    completed: bool = Field(description="Completed by the caller (completion is per user).")
    completed_at: datetime | None


class CourseRead(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    description: str | None
    visibility: Visibility
    is_owner: bool
    enrolled: bool
    created_at: datetime
    updated_at: datetime


class CourseDetail(CourseRead):
    modules: list[ModuleRead]
    modules_completed: int
    modules_total: int


class EnrollmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    user_id: uuid.UUID
    enrolled_at: datetime


class ModuleCompletionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    module_id: uuid.UUID
    completed_at: datetime
