import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams
from domain.resources.models import Resource
from domain.search.ranking import SearchQuery, list_or_search


class ResourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, resource_id: uuid.UUID) -> Resource | None:
        result = await self.session.execute(
            select(Resource).where(Resource.id == resource_id, Resource.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def get_by_url(self, user_id: uuid.UUID, url: str) -> Resource | None:
        result = await self.session.execute(
            select(Resource).where(Resource.user_id == user_id, Resource.url == url)
        )
        return result.scalar_one_or_none()

    async def list_page(
        self,
        conditions: list[ColumnElement[bool]],
        query: SearchQuery,
        params: PageParams,
    ) -> tuple[list[tuple[Resource, float | None]], str | None]:
        return await list_or_search(self.session, Resource, conditions, query, params)

    async def add(self, resource: Resource) -> Resource:
        self.session.add(resource)
        await self.session.flush()
        await self.session.refresh(resource)
        return resource

    async def delete(self, resource: Resource) -> None:
        await self.session.delete(resource)
        await self.session.flush()
