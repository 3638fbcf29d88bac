import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.summaries.models import Summary


@dataclass(frozen=True)
class SummaryKey:
    """Everything a summary depends on; the columns of `uq_summaries_cache_key`."""

    user_id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID
    length: str
    content_hash: str
    prompt_version: str
    model: str


class SummaryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, key: SummaryKey) -> Summary | None:
        result = await self.session.execute(
            select(Summary).where(
                *(getattr(Summary, column) == value for column, value in asdict(key).items())
            )
        )
        return result.scalar_one_or_none()

    async def add_if_absent(self, key: SummaryKey, text: str) -> None:
        """Two identical requests racing both get their answer; the table keeps the first."""
        await self.session.execute(
            insert(Summary)
            .values(id=uuid.uuid4(), text=text, **asdict(key))
            .on_conflict_do_nothing(index_elements=list(asdict(key)))
        )
