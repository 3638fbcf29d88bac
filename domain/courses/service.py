"""Course rules: who may see, edit and enroll; module order; per-user completion."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, ConflictError, NotFoundError
from core.pagination import PageParams
from domain.courses.models import Course, CourseModule, Enrollment, ModuleCompletion
from domain.courses.repository import CourseRepository
from domain.courses.schemas import (
    MAX_MODULES_PER_COURSE,
    CourseCreate,
    CourseUpdate,
    ModuleCreate,
    ModuleOrder,
    ModuleUpdate,
)


class CourseNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Course not found.")


class ModuleNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Module not found.")


class NotEnrolledError(ConflictError):
    code = "not_enrolled"

    def __init__(self) -> None:
        super().__init__("Enroll in the course before completing its modules.")


class InvalidModuleOrderError(AppError):
    status_code = 422
    code = "invalid_module_order"


@dataclass(frozen=True)
class CourseView:
    course: Course
    enrolled: bool


@dataclass(frozen=True)
class CourseDetailView:
    course: Course
    enrolled: bool
    modules: list[CourseModule]
    completions: dict[uuid.UUID, ModuleCompletion]


class CourseService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.courses = CourseRepository(session)

    async def create(self, owner_id: uuid.UUID, data: CourseCreate) -> CourseDetailView:
        course = Course(
            owner_id=owner_id,
            title=data.title,
            description=data.description,
            visibility=data.visibility,
        )
        self.session.add(course)
        await self.session.flush()
        # Requested positions are honoured as an order, then packed to 0..n-1.
        ordered = sorted(
            enumerate(data.modules),
            key=lambda item: item[1].position if item[1].position is not None else item[0],
        )
        for position, (_, module) in enumerate(ordered):
            self.session.add(self._new_module(course.id, module, position))
        await self.session.flush()
        return await self.detail(owner_id, course.id)

    async def list(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        enrolled: bool = False,
        created: bool = False,
        query: str | None = None,
    ) -> tuple[list[CourseView], str | None]:
        courses, cursor = await self.courses.list_page(
            user_id, params, enrolled=enrolled, created=created, query=query
        )
        enrolled_ids = await self.courses.enrolled_course_ids(user_id, [c.id for c in courses])
        return [CourseView(c, c.id in enrolled_ids) for c in courses], cursor

    async def get_readable(self, user_id: uuid.UUID, course_id: uuid.UUID) -> Course:
        course = await self.courses.get_visible(user_id, course_id)
        if course is None:
            raise CourseNotFoundError()
        return course

    async def detail(self, user_id: uuid.UUID, course_id: uuid.UUID) -> CourseDetailView:
        course = await self.get_readable(user_id, course_id)
        modules = await self.courses.modules(course.id)
        completions = await self.courses.completions(user_id, [m.id for m in modules])
        enrolled = await self.courses.is_enrolled(user_id, course.id)
        return CourseDetailView(course, enrolled, modules, completions)

    async def update(
        self, user_id: uuid.UUID, course_id: uuid.UUID, changes: CourseUpdate
    ) -> CourseDetailView:
        course = await self._owned(user_id, course_id)
        if changes.title is not None:
            course.title = changes.title
        if "description" in changes.model_fields_set:
            course.description = changes.description
        if changes.visibility is not None:
            course.visibility = changes.visibility
        await self.session.flush()
        await self.session.refresh(course)
        return await self.detail(user_id, course_id)

    async def add_module(
        self, user_id: uuid.UUID, course_id: uuid.UUID, data: ModuleCreate
    ) -> CourseModule:
        await self._owned(user_id, course_id, for_update=True)
        count = len(await self.courses.modules(course_id))
        if count >= MAX_MODULES_PER_COURSE:
            raise ConflictError(f"A course holds at most {MAX_MODULES_PER_COURSE} modules.")
        position = count if data.position is None else min(data.position, count)
        await self.courses.shift_positions(course_id, position, count, by=1)
        module = self._new_module(course_id, data, position)
        self.session.add(module)
        await self.session.flush()
        await self.session.refresh(module)
        return module

    async def update_module(
        self, user_id: uuid.UUID, course_id: uuid.UUID, module_id: uuid.UUID, changes: ModuleUpdate
    ) -> CourseModule:
        await self._owned(user_id, course_id, for_update=True)
        module = await self.courses.get_module(course_id, module_id)
        if module is None:
            raise ModuleNotFoundError()
        if changes.title is not None:
            module.title = changes.title
        # Sent as null, these two are cleared; left out, they stay.
        if "content" in changes.model_fields_set:
            module.content = changes.content
        if "estimated_minutes" in changes.model_fields_set:
            module.estimated_minutes = changes.estimated_minutes
        if changes.position is not None:
            await self._move(module, changes.position)
        await self.session.flush()
        await self.session.refresh(module)
        return module

    async def reorder_modules(
        self, user_id: uuid.UUID, course_id: uuid.UUID, order: ModuleOrder
    ) -> CourseDetailView:
        await self._owned(user_id, course_id, for_update=True)
        modules = {module.id: module for module in await self.courses.modules(course_id)}
        if len(order.module_ids) != len(set(order.module_ids)) or set(order.module_ids) != set(
            modules
        ):
            raise InvalidModuleOrderError(
                "module_ids must list every module of the course exactly once.",
                {"expected": sorted(str(module_id) for module_id in modules)},
            )
        for position, module_id in enumerate(order.module_ids):
            modules[module_id].position = position
        await self.session.flush()
        return await self.detail(user_id, course_id)

    async def enroll(self, user_id: uuid.UUID, course_id: uuid.UUID) -> tuple[Enrollment, bool]:
        await self.get_readable(user_id, course_id)
        return await self.courses.enroll(user_id, course_id)

    async def complete_module(
        self, user_id: uuid.UUID, course_id: uuid.UUID, module_id: uuid.UUID
    ) -> tuple[ModuleCompletion, bool]:
        course = await self.get_readable(user_id, course_id)
        module = await self.courses.get_module(course_id, module_id)
        if module is None:
            raise ModuleNotFoundError()
        if course.owner_id != user_id and not await self.courses.is_enrolled(user_id, course_id):
            raise NotEnrolledError()
        return await self.courses.complete_module(user_id, module.id)

    async def _owned(
        self, user_id: uuid.UUID, course_id: uuid.UUID, *, for_update: bool = False
    ) -> Course:
        # Public courses of others are readable but not editable; both "not yours" cases look
        # absent, so an id reveals nothing.
        course = await self.courses.get_owned(user_id, course_id, for_update=for_update)
        if course is None:
            raise CourseNotFoundError()
        return course

    async def _move(self, module: CourseModule, target: int) -> None:
        count = len(await self.courses.modules(module.course_id))
        target = min(target, count - 1)
        if target == module.position:
            return
        if target < module.position:
            await self.courses.shift_positions(module.course_id, target, module.position - 1, by=1)
        else:
            await self.courses.shift_positions(module.course_id, module.position + 1, target, by=-1)
        module.position = target

    @staticmethod
    def _new_module(course_id: uuid.UUID, data: ModuleCreate, position: int) -> CourseModule:
        return CourseModule(
            course_id=course_id,
            title=data.title,
            content=data.content,
            estimated_minutes=data.estimated_minutes,
            position=position,
        )
