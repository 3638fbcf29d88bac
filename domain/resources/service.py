"""Resource rules: one resource per URL per user, links to readable courses, AI resources tied
to the caller's own recommendation, embedding state."""

import uuid

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import ConflictError, NotFoundError
from core.pagination import PageParams
from domain.courses.repository import CourseRepository
from domain.recommendations.repository import RecommendationRepository
from domain.resources.models import Resource
from domain.resources.repository import ResourceRepository
from domain.resources.schemas import ResourceCreate, ResourceUpdate
from domain.search.ranking import SearchQuery


class ResourceNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Resource not found.")


class RecommendationNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Recommendation not found.")


class DuplicateResourceError(ConflictError):
    code = "duplicate_resource"

    def __init__(self, existing_id: uuid.UUID | None) -> None:
        details = {"existing_id": str(existing_id)} if existing_id else None
        super().__init__("You already saved a resource with this URL.", details)


class ResourceService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.resources = ResourceRepository(session)
        self.courses = CourseRepository(session)
        self.recommendations = RecommendationRepository(session)

    async def create(self, user_id: uuid.UUID, data: ResourceCreate) -> Resource:
        await self._check_course(user_id, data.course_id)
        await self._check_recommendation(user_id, data.recommendation_id)
        url = str(data.url) if data.url is not None else None
        await self._check_url_free(user_id, url)
        resource = Resource(
            user_id=user_id,
            title=data.title,
            url=url,
            type=data.type,
            description=data.description,
            tags=data.tags,
            course_id=data.course_id,
            source=data.source,
            recommendation_id=data.recommendation_id,
            embedding_status="pending",
        )
        return await self._save(user_id, resource)

    async def get(self, user_id: uuid.UUID, resource_id: uuid.UUID) -> Resource:
        resource = await self.resources.get(user_id, resource_id)
        if resource is None:
            raise ResourceNotFoundError()
        return resource

    async def list(
        self,
        user_id: uuid.UUID,
        params: PageParams,
        *,
        query: SearchQuery,
        type_: str | None = None,
        course_id: uuid.UUID | None = None,
        tag: str | None = None,
    ) -> tuple[list[tuple[Resource, float | None]], str | None]:
        conditions: list[ColumnElement[bool]] = [Resource.user_id == user_id]
        if type_ is not None:
            conditions.append(Resource.type == type_)
        if course_id is not None:
            conditions.append(Resource.course_id == course_id)
        if tag is not None:
            conditions.append(Resource.tags.contains([tag.strip().lower()]))
        return await self.resources.list_page(conditions, query, params)

    async def update(
        self, user_id: uuid.UUID, resource_id: uuid.UUID, changes: ResourceUpdate
    ) -> Resource:
        resource = await self.get(user_id, resource_id)
        fields = changes.model_fields_set
        if "course_id" in fields:
            await self._check_course(user_id, changes.course_id)
            resource.course_id = changes.course_id
        if "url" in fields:
            url = str(changes.url) if changes.url is not None else None
            if url != resource.url:
                await self._check_url_free(user_id, url)
            resource.url = url
        if changes.title is not None:
            resource.title = changes.title
        if changes.type is not None:
            resource.type = changes.type
        if "description" in fields:
            resource.description = changes.description
        if changes.tags is not None:
            resource.tags = changes.tags
        if {"title", "description", "tags"} & fields:
            resource.embedding_status = "pending"
        return await self._save(user_id, resource)

    async def delete(self, user_id: uuid.UUID, resource_id: uuid.UUID) -> None:
        await self.resources.delete(await self.get(user_id, resource_id))

    async def _save(self, user_id: uuid.UUID, resource: Resource) -> Resource:
        # Two concurrent saves of one URL both pass the check; the unique index decides.
        try:
            async with self.session.begin_nested():
                saved = await self.resources.add(resource)
        except IntegrityError as exc:
            existing = await self.resources.get_by_url(user_id, resource.url or "")
            raise DuplicateResourceError(existing.id if existing else None) from exc
        return saved

    async def _check_url_free(self, user_id: uuid.UUID, url: str | None) -> None:
        if url is None:
            return
        existing = await self.resources.get_by_url(user_id, url)
        if existing is not None:
            raise DuplicateResourceError(existing.id)

    async def _check_recommendation(
        self, user_id: uuid.UUID, recommendation_id: uuid.UUID | None
    ) -> None:
        # An "ai" resource points at the caller's own recommendation, never a guessed or
        # foreign one: 404 either way, so other users' ids cannot be probed.
        if (
            recommendation_id is not None
            and await self.recommendations.get(user_id, recommendation_id) is None
        ):
            raise RecommendationNotFoundError()

    async def _check_course(self, user_id: uuid.UUID, course_id: uuid.UUID | None) -> None:
        if course_id is not None and await self.courses.get_visible(user_id, course_id) is None:
            raise NotFoundError("Course not found.")
