import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.courses.models import CourseModule, ModuleCompletion
from domain.courses.schemas import (
    CourseCreate,
    CourseDetail,
    CourseRead,
    CourseUpdate,
    EnrollmentRead,
    ModuleCompletionRead,
    ModuleCreate,
    ModuleOrder,
    ModuleRead,
    ModuleUpdate,
)
from domain.courses.service import CourseDetailView, CourseService, CourseView

router = APIRouter(prefix="/courses", tags=["courses"])
PageDep = Annotated[PageParams, Depends(page_params)]


def _course_read(view: CourseView | CourseDetailView, user_id: uuid.UUID) -> CourseRead:
    course = view.course
    return CourseRead(
        id=course.id,
        owner_id=course.owner_id,
        title=course.title,
        description=course.description,
        visibility=course.visibility,
        is_owner=course.owner_id == user_id,
        enrolled=view.enrolled,
        created_at=course.created_at,
        updated_at=course.updated_at,
    )


def _module_read(module: CourseModule, completion: ModuleCompletion | None) -> ModuleRead:
    return ModuleRead(
        id=module.id,
        title=module.title,
        content=module.content,
        estimated_minutes=module.estimated_minutes,
        position=module.position,
        completed=completion is not None,
        completed_at=completion.completed_at if completion else None,
    )


def _detail(view: CourseDetailView, user_id: uuid.UUID) -> CourseDetail:
    modules = [_module_read(m, view.completions.get(m.id)) for m in view.modules]
    return CourseDetail(
        **_course_read(view, user_id).model_dump(),
        modules=modules,
        modules_completed=sum(module.completed for module in modules),
        modules_total=len(modules),
    )


@router.get("", response_model=Page[CourseRead], responses=error_responses(401, 422))
async def list_courses(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    enrolled: Annotated[bool, Query(description="Only courses you are enrolled in.")] = False,
    created: Annotated[bool, Query(description="Only courses you created.")] = False,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Full-text search, ranked."),
    ] = None,
) -> Page[CourseRead]:
    views, cursor = await CourseService(session).list(
        user.id, page, enrolled=enrolled, created=created, query=q
    )
    items = [_course_read(view, user.id) for view in views]
    return Page(items=items, next_cursor=cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CourseDetail,
    responses=error_responses(401, 422),
)
async def create_course(body: CourseCreate, user: CurrentUser, session: SessionDep) -> CourseDetail:
    return _detail(await CourseService(session).create(user.id, body), user.id)


@router.get("/{course_id}", response_model=CourseDetail, responses=error_responses(401, 404, 422))
async def get_course(course_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CourseDetail:
    return _detail(await CourseService(session).detail(user.id, course_id), user.id)


@router.patch("/{course_id}", response_model=CourseDetail, responses=error_responses(401, 404, 422))
async def update_course(
    course_id: uuid.UUID, body: CourseUpdate, user: CurrentUser, session: SessionDep
) -> CourseDetail:
    return _detail(await CourseService(session).update(user.id, course_id, body), user.id)


@router.post(
    "/{course_id}/modules",
    status_code=status.HTTP_201_CREATED,
    response_model=ModuleRead,
    responses=error_responses(401, 404, 409, 422),
)
async def add_module(
    course_id: uuid.UUID, body: ModuleCreate, user: CurrentUser, session: SessionDep
) -> ModuleRead:
    module = await CourseService(session).add_module(user.id, course_id, body)
    return _module_read(module, None)


@router.patch(
    "/{course_id}/modules/{module_id}",
    response_model=ModuleRead,
    responses=error_responses(401, 404, 422),
)
async def update_module(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    body: ModuleUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> ModuleRead:
    service = CourseService(session)
    module = await service.update_module(user.id, course_id, module_id, body)
    completions = await service.courses.completions(user.id, [module.id])
    return _module_read(module, completions.get(module.id))


@router.put(
    "/{course_id}/modules/order",
    response_model=CourseDetail,
    responses=error_responses(401, 404, 422),
    summary="Reorder every module of a course at once",
)
async def reorder_modules(
    course_id: uuid.UUID, body: ModuleOrder, user: CurrentUser, session: SessionDep
) -> CourseDetail:
    return _detail(await CourseService(session).reorder_modules(user.id, course_id, body), user.id)


@router.post(
    "/{course_id}/enroll",
    response_model=EnrollmentRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EnrollmentRead, "description": "Already enrolled: the same enrollment."},
        **error_responses(401, 404, 422),
    },
)
async def enroll(
    course_id: uuid.UUID, user: CurrentUser, session: SessionDep, response: Response
) -> EnrollmentRead:
    enrollment, created = await CourseService(session).enroll(user.id, course_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return EnrollmentRead.model_validate(enrollment)


@router.post(
    "/{course_id}/modules/{module_id}/complete",
    response_model=ModuleCompletionRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ModuleCompletionRead, "description": "Already completed."},
        **error_responses(401, 404, 409, 422),
    },
)
async def complete_module(
    course_id: uuid.UUID,
    module_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
) -> ModuleCompletionRead:
    completion, created = await CourseService(session).complete_module(
        user.id, course_id, module_id
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return ModuleCompletionRead.model_validate(completion)
