"""The one rule for linking something a student owns (a note, a document) to a course module."""

import uuid

from core.errors import NotFoundError
from domain.courses.repository import CourseRepository


async def readable_links(
    courses: CourseRepository,
    user_id: uuid.UUID,
    course_id: uuid.UUID | None,
    module_id: uuid.UUID | None,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """`(course_id, module_id)` once both are readable by the user and the module belongs to the
    course (a module alone implies its course); 404 otherwise, so ids cannot be probed."""
    if course_id is not None and await courses.get_visible(user_id, course_id) is None:
        raise NotFoundError("Course not found.")
    if module_id is None:
        return course_id, None
    module = await courses.get_module_anywhere(module_id)
    readable = module is not None and (
        await courses.get_visible(user_id, module.course_id) is not None
    )
    if module is None or not readable or (course_id not in (None, module.course_id)):
        raise NotFoundError("Module not found.")
    return module.course_id, module.id
