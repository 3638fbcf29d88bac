"""The replayed suites: every agent's cases through the real graphs with the scripted model."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.evals.repository import EvalRepository
from evals.cases import Suite, load_suite
from evals.runner import RunOptions
from tests.evals.conftest import RunSuite
from tests.support.scripted_openai import Answer, ScriptedOpenAI


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


async def test_a_live_run_talks_http_to_an_openai_compatible_server_and_records_it(
    run: RunSuite, db_session: AsyncSession
) -> None:
    cases = load_suite("chat", "chat/no-tool/what-can-you-do")
    async with ScriptedOpenAI([Answer("I can search your notes and plan your week.")]) as server:
        summary = await run(
            RunOptions(suite="chat", mode="live", model="gpt-live", base_url=server.base_url),
            cases,
        )
        sent = server.requests
    (result,) = await EvalRepository(db_session).results(summary.run_id)
    assert result.passed, result.scores
    assert result.model == "gpt-live"
    assert sent[0]["model"] == "gpt-live"
    assert sent[0]["temperature"] == 0
    # The transcript holds what went over the wire, as the server received it.
    recorded = result.transcript["model_requests"][0]["messages"]
    assert recorded == sent[0]["messages"]
    assert "Hi! What can you help me with?" in recorded[-1]["content"]
