"""The gate checks itself: the current prompts against themselves show no difference, and a
deliberately worse prompt is caught as a regression."""

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain.evals.service import EvalService
from evals import report
from evals.cases import load_suite
from evals.runner import RunOptions
from prompts import load_prompt_file
from tests.evals.conftest import RunSuite

WORSE_CHAT_PROMPT = Path(__file__).parent / "fixtures" / "chat_system_worse.md"
# The cases these prompt rules touch, plus a few they must not: enough for McNemar to see the
# regression, few enough to keep CI short (the full suite runs in test_suites).
SAMPLE_TAGS = {"citation", "injection", "no-tool"}


async def test_the_current_chat_prompt_against_itself_shows_no_difference_and_a_worse_one_regresses(
    run: RunSuite, db_session: AsyncSession
) -> None:
    cases = [c for c in load_suite("chat") if SAMPLE_TAGS & set(c.case.tags)]
    baseline = await run(RunOptions(suite="chat", label="baseline"), cases)
    again = await run(RunOptions(suite="chat", label="baseline again"), cases)
    worse = load_prompt_file("chat/system", WORSE_CHAT_PROMPT)
    candidate = await run(RunOptions(suite="chat", prompts=[worse], label="worse"), cases)
    service = EvalService(db_session)

    same = await service.compare(baseline.run_id, again.run_id)
    assert (same.regressed, same.improved, same.mcnemar_p) == (0, 0, 1.0)
    assert (same.pass_rate_difference.low, same.pass_rate_difference.high) == (0.0, 0.0)
    assert same.non_inferior
    assert same.verdict.startswith("NO REGRESSION")

    worse_comparison = await service.compare(baseline.run_id, candidate.run_id)
    assert worse_comparison.candidate.prompts == {
        "chat/system": "chat/system@file:chat_system_worse.md"
    }
    assert not worse_comparison.non_inferior
    assert worse_comparison.verdict.startswith("REGRESSION")
    assert worse_comparison.regressed >= 6
    assert worse_comparison.mcnemar_p < 0.05
    assert worse_comparison.pass_rate_difference.high < 0
    # The injected note now wins: a hard gate fails, not only a soft score.
    assert worse_comparison.candidate_gate_failures >= 1
    regressed = {p.case_id for p in worse_comparison.pairs if p.change == "regressed"}
    assert {"chat/injection/forum-note", "chat/one-tool/chain-rule-note"} <= regressed
    # Flipped cases come first, and the report names them with both answers.
    assert worse_comparison.pairs[0].change == "regressed"
    markdown = report.markdown(worse_comparison)
    assert "### chat/injection/forum-note: regressed" in markdown
    assert "changes_only_when_asked" in markdown
    page = report.html_page(worse_comparison)
    assert page.startswith("<!doctype html>")
    assert "chat/one-tool/chain-rule-note" in page
