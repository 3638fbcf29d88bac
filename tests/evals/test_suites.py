"""The replayed suites: every agent's cases through the real graphs with the scripted model."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.evals.repository import EvalRepository
from evals.cases import Suite
from evals.runner import RunOptions
from tests.evals.conftest import RunSuite


@pytest.mark.parametrize("suite", ["chat", "summary", "plan", "recommend"])
async def test_every_case_of_the_suite_passes_with_the_current_prompts(
    suite: Suite, run: RunSuite, db_session: AsyncSession
) -> None:
    summary = await run(RunOptions(suite=suite))
    results = await EvalRepository(db_session).results(summary.run_id)
    failures = {
        r.case_id: [s for s in r.scores if not s["passed"] and s["kind"] != "score"]
        for r in results
        if not r.passed
    }
    assert failures == {}, "\n".join(f"{c}: {f}" for c, f in failures.items())
    assert summary.cases >= 25
    assert summary.gate_failures == 0
    assert all(r.input_tokens > 0 for r in results if r.error is None)
