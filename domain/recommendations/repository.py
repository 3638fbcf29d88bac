import uuid
from collections.abc import Sequence

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from core.pagination import PageParams
from core.repository import OwnedRepository
from domain.agent_runs.models import AgentRun
from domain.courses.models import Course
from domain.courses.repository import CourseRepository
from domain.goals.models import Goal
from domain.recommendations.models import Recommendation
from domain.resources.models import Resource
from domain.search.ranking import SearchQuery, search_page


class RecommendationRepository(OwnedRepository[Recommendation]):
    model = Recommendation

    async def readable_courses(
        self, user_id: uuid.UUID, course_ids: Sequence[uuid.UUID]
    ) -> list[Course]:
        """Those of `course_ids` the user may read, with their modules."""
        result = await self.session.execute(
            CourseRepository.visible_to(user_id)
            .where(Course.id.in_(course_ids))
            .options(selectinload(Course.modules))
        )
        return list(result.scalars())

    async def own_goals(self, user_id: uuid.UUID, goal_ids: Sequence[uuid.UUID]) -> list[Goal]:
        result = await self.session.execute(
            select(Goal).where(Goal.user_id == user_id, Goal.id.in_(goal_ids))
        )
        return list(result.scalars())

    async def nearest_candidates(
        self, user_id: uuid.UUID, query: SearchQuery, count: int
    ) -> list[tuple[Resource, float]]:
        """The `count` resources closest to `query.vector`, with their cosine similarity, among
        those the user may be shown: their own, and anyone's attached to a public course. Another
        user's resource with no course or on a private course is private to them."""
        public_courses = select(Course.id).where(Course.visibility == "public")
        conditions = [
            Resource.embedding_status == "ready",
            or_(Resource.user_id == user_id, Resource.course_id.in_(public_courses)),
        ]
        hits, _ = await search_page(
            self.session, Resource, conditions, query, PageParams(limit=count)
        )
        return hits

    async def run_recorded(self, run_id: uuid.UUID) -> bool:
        result = await self.session.execute(select(exists().where(AgentRun.id == run_id)))
        return bool(result.scalar_one())

    async def existing_resources(self, resource_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not resource_ids:
            return set()
        result = await self.session.execute(
            select(Resource.id).where(Resource.id.in_(resource_ids))
        )
        return set(result.scalars())

    async def add_all(self, recommendations: Sequence[Recommendation]) -> list[Recommendation]:
        self.session.add_all(recommendations)
        await self.session.flush()
        return list(recommendations)
