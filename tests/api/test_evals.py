"""The admin API over eval runs: admins read runs, results and comparisons; others get 404."""

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.evals.models import EvalResult, EvalRun
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.factories.users import auth_headers, create_user


async def _run(session: AsyncSession, suite: str, outcomes: list[bool]) -> EvalRun:
    run = EvalRun(
        suite=suite,
        mode="scripted",
        status="finished",
        model="scripted",
        prompts={f"{suite}/system": f"{suite}/system@v1"},
        repeats=1,
        cases=len(outcomes),
        passed=sum(outcomes),
        gate_failures=0,
    )
    session.add(run)
    await session.flush()
    session.add_all(
        EvalResult(
            run_id=run.id,
            case_id=f"{suite}/case-{n:02d}",
            repeat=0,
            passed=passed,
            gates_passed=True,
            soft_score=1.0 if passed else 0.0,
            scores=[
                {
                    "name": "says",
                    "kind": "check",
                    "passed": passed,
                    "value": None,
                    "explanation": "",
                }
            ],
            prompt_versions=[f"{suite}/system@v1"],
            model="scripted",
            input_tokens=10,
            output_tokens=5,
            latency_ms=12,
            error=None,
            transcript={"answer": f"answer {n}"},
        )
        for n, passed in enumerate(outcomes)
    )
    await session.commit()
    return run


async def _admin(session: AsyncSession) -> User:
    return await create_user(session, role="admin")


async def test_an_admin_lists_runs_newest_first_and_reads_one_with_its_results(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    admin = await _admin(db_session)
    older = await _run(db_session, "chat", [True, False])
    newer = await _run(db_session, "plan", [True])
    headers = auth_headers(codec, admin)

    listing = await client.get("/evals/runs", headers=headers)
    assert listing.status_code == 200
    ids = [item["id"] for item in listing.json()["items"]]
    assert ids.index(str(newer.id)) < ids.index(str(older.id))
    only_chat = await client.get("/evals/runs", params={"suite": "chat"}, headers=headers)
    assert {item["suite"] for item in only_chat.json()["items"]} == {"chat"}

    detail = await client.get(f"/evals/runs/{older.id}", headers=headers)
    assert detail.status_code == 200
    body = detail.json()
    assert body["passed"] == 1
    assert [r["case_id"] for r in body["results"]] == ["chat/case-00", "chat/case-01"]
    assert body["results"][1]["scores"][0]["passed"] is False


async def test_compare_pairs_cases_and_names_the_flips(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    admin = await _admin(db_session)
    baseline = await _run(db_session, "chat", [True] * 10)
    candidate = await _run(db_session, "chat", [False] * 7 + [True] * 3)

    response = await client.get(
        "/evals/compare",
        params={"baseline": str(baseline.id), "candidate": str(candidate.id)},
        headers=auth_headers(codec, admin),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["regressed"], body["improved"]) == (7, 0)
    assert body["mcnemar_p"] == pytest.approx(2 * 0.5**7)
    assert body["non_inferior"] is False
    assert body["verdict"].startswith("REGRESSION")
    assert body["pairs"][0]["change"] == "regressed"
    assert body["pairs"][0]["baseline"]["answer"] == "answer 0"


async def test_runs_of_different_suites_are_not_compared(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    admin = await _admin(db_session)
    chat, plan = await _run(db_session, "chat", [True]), await _run(db_session, "plan", [True])
    response = await client.get(
        "/evals/compare",
        params={"baseline": str(chat.id), "candidate": str(plan.id)},
        headers=auth_headers(codec, admin),
    )
    assert_error(response, 422, "different_suites")


async def test_an_unknown_run_is_404_for_an_admin(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    admin = await _admin(db_session)
    response = await client.get(f"/evals/runs/{uuid.uuid4()}", headers=auth_headers(codec, admin))
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("path", ["/evals/runs", "/evals/runs/{id}", "/evals/compare"])
async def test_a_student_gets_404_and_a_stranger_401(
    path: str, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    run = await _run(db_session, "chat", [True])
    student = await create_user(db_session)
    url = path.format(id=run.id)
    params = {"baseline": str(run.id), "candidate": str(run.id)}
    assert_error(
        await client.get(url, params=params, headers=auth_headers(codec, student)),
        404,
        "not_found",
    )
    assert (await client.get(url, params=params)).status_code == 401
