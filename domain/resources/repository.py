import uuid

from sqlalchemy import ColumnElement, select

from core.pagination import PageParams
from core.repository import OwnedRepository
from domain.resources.models import Resource
from domain.search.ranking import SearchQuery, list_or_search


class ResourceRepository(OwnedRepository[Resource]):
    model = Resource

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
