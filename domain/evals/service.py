"""Reading eval runs and comparing two of them (admins only: checked by the caller's role)."""

import uuid
from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, NotFoundError
from core.pagination import PageParams
from domain.evals.comparison import DEFAULT_MARGIN, CaseResult, Comparison, compare
from domain.evals.models import EvalRun
from domain.evals.repository import EvalRepository
from domain.evals.schemas import (
    ComparisonRead,
    EvalResultRead,
    EvalRunDetail,
    EvalRunRead,
)


class EvalRunNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Eval run not found.")


class DifferentSuitesError(AppError):
    status_code = 422
    code = "different_suites"


class EvalService:
    def __init__(self, session: AsyncSession) -> None:
        self.evals = EvalRepository(session)

    async def list_runs(
        self, params: PageParams, suite: str | None = None
    ) -> tuple[list[EvalRun], str | None]:
        return await self.evals.list_runs(params, suite)

    async def get_run(self, run_id: uuid.UUID) -> EvalRunDetail:
        run = await self._run(run_id)
        results = await self.evals.results(run_id)
        return EvalRunDetail(
            **EvalRunRead.model_validate(run).model_dump(),
            results=[EvalResultRead.model_validate(result) for result in results],
        )

    async def compare(
        self, baseline_id: uuid.UUID, candidate_id: uuid.UUID, margin: float = DEFAULT_MARGIN
    ) -> ComparisonRead:
        baseline, candidate = await self._run(baseline_id), await self._run(candidate_id)
        if baseline.suite != candidate.suite:
            raise DifferentSuitesError(
                f"Runs of different suites cannot be paired ({baseline.suite} and "
                f"{candidate.suite}).",
                {"baseline": baseline.suite, "candidate": candidate.suite},
            )
        comparison = compare(
            await self._results(baseline_id), await self._results(candidate_id), margin
        )
        return comparison_read(comparison, baseline, candidate)

    async def _run(self, run_id: uuid.UUID) -> EvalRun:
        run = await self.evals.get_run(run_id)
        if run is None:
            raise EvalRunNotFoundError()
        return run

    async def _results(self, run_id: uuid.UUID) -> list[CaseResult]:
        return [
            CaseResult(
                case_id=r.case_id,
                repeat=r.repeat,
                passed=r.passed,
                gates_passed=r.gates_passed,
                soft_score=r.soft_score,
                scores=r.scores,
                transcript=r.transcript,
            )
            for r in await self.evals.results(run_id)
        ]


def comparison_read(
    comparison: Comparison, baseline: EvalRun, candidate: EvalRun
) -> ComparisonRead:
    data = asdict(comparison)
    data["pairs"] = [
        {
            "case_id": pair.case_id,
            "change": pair.change,
            "baseline": asdict(pair.baseline),
            "candidate": asdict(pair.candidate),
        }
        for pair in comparison.pairs
    ]
    return ComparisonRead.model_validate(
        {
            **data,
            "baseline": EvalRunRead.model_validate(baseline),
            "candidate": EvalRunRead.model_validate(candidate),
        }
    )
