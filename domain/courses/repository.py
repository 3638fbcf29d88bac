import uuid
from collections.abc import Sequence

from sqlalchemy import Float, Select, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate_rows
from core.search import TEXT_SEARCH_CONFIG
from domain.courses.models import Course, CourseModule, Enrollment, ModuleCompletion
from domain.search.ranking import force_custom_plan


class CourseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def visible_to(user_id: uuid.UUID) -> Select[tuple[Course]]:
        """Courses a user may read: their own and every public one."""
        return select(Course).where(or_(Course.owner_id == user_id, Course.visibility == "public"))

    async def get_visible(self, user_id: uuid.UUID, course_id: uuid.UUID) -> Course | None:
        result = await self.session.execute(self.visible_to(user_id).where(Course.id == course_id))
        return result.scalar_one_or_none()

    async def usable_by(self, user_id: uuid.UUID, course_id: uuid.UUID) -> bool:
        """The course exists and the user owns it or is enrolled in it (what goals and schedule
        blocks may link to; merely public is not enough)."""
        enrolled = exists().where(Enrollment.course_id == Course.id, Enrollment.user_id == user_id)
        result = await self.session.execute(
            select(
                exists().where(Course.id == course_id, or_(Course.owner_id == user_id, enrolled))
            )
        )
        return bool(result.scalar_one())

    async def get_owned(
        self, user_id: uuid.UUID, course_id: uuid.UUID, *, for_update: bool = False
    ) -> Course | None:
        statement = select(Course).where(Course.id == course_id, Course.owner_id == user_id)
        if for_update:
            # Serialises module edits of one course (positions are computed from the others).
            statement = statement.with_for_update()
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def list_page(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        enrolled: bool,
        created: bool,
        query: str | None,
    ) -> tuple[list[Course], str | None]:
        statement = self.visible_to(user_id)
        if created:
            statement = statement.where(Course.owner_id == user_id)
        if enrolled:
            statement = statement.where(
                Course.id.in_(select(Enrollment.course_id).where(Enrollment.user_id == user_id))
            )
        if query:
            await force_custom_plan(self.session)
            tsquery = func.websearch_to_tsquery(TEXT_SEARCH_CONFIG, query)
            statement = statement.where(Course.search.op("@@")(tsquery))
            rank = func.ts_rank_cd(Course.search, tsquery, type_=Float)
            rows, cursor = await paginate_rows(self.session, statement, [rank, Course.id], params)
        else:
            rows, cursor = await paginate_rows(
                self.session, statement, [Course.created_at, Course.id], params
            )
        return [row[0] for row in rows], cursor

    async def enrolled_course_ids(
        self, user_id: uuid.UUID, course_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        result = await self.session.execute(
            select(Enrollment.course_id).where(
                Enrollment.user_id == user_id, Enrollment.course_id.in_(course_ids)
            )
        )
        return set(result.scalars())

    async def modules(self, course_id: uuid.UUID) -> list[CourseModule]:
        result = await self.session.execute(
            select(CourseModule)
            .where(CourseModule.course_id == course_id)
            .order_by(CourseModule.position)
        )
        return list(result.scalars())

    async def get_module(self, course_id: uuid.UUID, module_id: uuid.UUID) -> CourseModule | None:
        result = await self.session.execute(
            select(CourseModule).where(
                CourseModule.id == module_id, CourseModule.course_id == course_id
            )
        )
        return result.scalar_one_or_none()

    async def get_module_anywhere(self, module_id: uuid.UUID) -> CourseModule | None:
        """The module by id alone; callers check the caller may read its course."""
        return await self.session.get(CourseModule, module_id)

    async def shift_positions(self, course_id: uuid.UUID, start: int, end: int, by: int) -> None:
        """Move every module with start <= position <= end by `by` places."""
        await self.session.execute(
            update(CourseModule)
            .where(
                CourseModule.course_id == course_id,
                CourseModule.position >= start,
                CourseModule.position <= end,
            )
            .values(position=CourseModule.position + by)
        )

    async def completions(
        self, user_id: uuid.UUID, module_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ModuleCompletion]:
        if not module_ids:
            return {}
        result = await self.session.execute(
            select(ModuleCompletion).where(
                ModuleCompletion.user_id == user_id, ModuleCompletion.module_id.in_(module_ids)
            )
        )
        return {completion.module_id: completion for completion in result.scalars()}

    async def enroll(self, user_id: uuid.UUID, course_id: uuid.UUID) -> tuple[Enrollment, bool]:
        """Return (enrollment, created). ON CONFLICT keeps concurrent enrolls to one row."""
        inserted = await self.session.execute(
            insert(Enrollment)
            .values(id=uuid.uuid4(), user_id=user_id, course_id=course_id)
            .on_conflict_do_nothing(constraint="uq_enrollments_user_course")
            .returning(Enrollment.id)
        )
        created = inserted.scalar_one_or_none() is not None
        result = await self.session.execute(
            select(Enrollment).where(
                Enrollment.user_id == user_id, Enrollment.course_id == course_id
            )
        )
        return result.scalar_one(), created

    async def is_enrolled(self, user_id: uuid.UUID, course_id: uuid.UUID) -> bool:
        return bool(await self.enrolled_course_ids(user_id, [course_id]))

    async def complete_module(
        self, user_id: uuid.UUID, module_id: uuid.UUID
    ) -> tuple[ModuleCompletion, bool]:
        inserted = await self.session.execute(
            insert(ModuleCompletion)
            .values(id=uuid.uuid4(), user_id=user_id, module_id=module_id)
            .on_conflict_do_nothing(constraint="uq_module_completions_user_module")
            .returning(ModuleCompletion.id)
        )
        created = inserted.scalar_one_or_none() is not None
        result = await self.session.execute(
            select(ModuleCompletion).where(
                ModuleCompletion.user_id == user_id, ModuleCompletion.module_id == module_id
            )
        )
        return result.scalar_one(), created
