import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams, paginate
from domain.evals.models import EvalResult, EvalRun


class EvalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_run(self, run: EvalRun) -> EvalRun:
        self.session.add(run)
        await self.session.flush()
        return run

    async def add_result(self, result: EvalResult) -> None:
        self.session.add(result)
        await self.session.flush()

    async def get_run(self, run_id: uuid.UUID) -> EvalRun | None:
        return await self.session.get(EvalRun, run_id)

    async def list_runs(
        self, params: PageParams, suite: str | None
    ) -> tuple[list[EvalRun], str | None]:
        statement = select(EvalRun)
        if suite is not None:
            statement = statement.where(EvalRun.suite == suite)
        return await paginate(self.session, statement, [EvalRun.created_at, EvalRun.id], params)

    async def results(self, run_id: uuid.UUID) -> Sequence[EvalResult]:
        statement = (
            select(EvalResult)
            .where(EvalResult.run_id == run_id)
            .order_by(EvalResult.case_id, EvalResult.repeat)
        )
        return (await self.session.scalars(statement)).all()
