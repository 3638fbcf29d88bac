"""Model-judged rubrics: scored through the real client on the judge's own wire, recorded with
the judge's name and prompt version, and moved by what the answers do."""

import json

from sqlalchemy.ext.asyncio import AsyncSession

from domain.evals.repository import EvalRepository
from evals.cases import load_suite
from evals.openai_wire import ToolCalls
from evals.runner import SCRIPTED_JUDGE_NAME, RunOptions
from evals.scripted_judge import scripted_judge
from tests.evals.conftest import RunSuite

CITED = "[note:0b6c2c4e-3f5e-4a63-9d1f-2a3c8a8d9e10]"


def _ratings(request: list[str], material: str, answer: str) -> dict[str, int]:
    data = {"request": request, "material": material, "answer": answer}
    reply = scripted_judge({"messages": [{"role": "user", "content": json.dumps(data)}]})
    assert isinstance(reply, ToolCalls)
    arguments = reply.calls[0].arguments
    assert isinstance(arguments, dict)
    return {name: rating["rating"] for name, rating in arguments.items()}


def test_the_scripted_judge_marks_down_a_citation_missing_from_the_material() -> None:
    faithful = _ratings(["What is the chain rule?"], f"notes: {CITED[6:-1]}", f"See {CITED}.")
    invented = _ratings(["What is the chain rule?"], "notes: nothing", f"See {CITED}.")
    assert (faithful["faithfulness"], invented["faithfulness"]) == (5, 1)


def test_the_scripted_judge_rewards_guidance_only_when_the_student_wants_to_learn() -> None:
    learn = ["Help me understand the chain rule"]
    assert _ratings(learn, "", "It is f'(g(x))g'(x).")["teaching"] == 2
    assert _ratings(learn, "", "First, what is the outer function here?")["teaching"] == 5
    assert _ratings(["When is my exam?"], "", "Friday.")["teaching"] == 4


async def test_a_judged_run_records_rubric_scores_with_the_judge_and_its_prompt(
    run: RunSuite, db_session: AsyncSession
) -> None:
    cases = load_suite("chat", "chat/one-tool/*")
    summary = await run(RunOptions(suite="chat", judge=SCRIPTED_JUDGE_NAME), cases)
    repository = EvalRepository(db_session)
    stored = await repository.get_run(summary.run_id)
    assert stored is not None
    assert stored.judge == SCRIPTED_JUDGE_NAME
    results = await repository.results(summary.run_id)
    assert len(results) == len(cases) > 1
    for result in results:
        judged = {s["name"]: s for s in result.scores if s["name"].startswith("judge.")}
        assert set(judged) == {"judge.helpfulness", "judge.teaching", "judge.faithfulness"}
        for score in judged.values():
            assert 0.0 <= score["value"] <= 1.0
            assert f"({SCRIPTED_JUDGE_NAME}, evals/judge@v1)" in score["explanation"]
        # The judge's requests stayed off the agent's wire, which the gates read.
        requests = json.dumps(result.transcript["model_requests"])
        assert "You grade one answer" not in requests
        assert result.gates_passed
