"""`studypilot users promote|demote` and `studypilot evals compare` as commands, against the
test database (rows they need are committed, then removed)."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from cli.main import app
from domain.evals.models import EvalResult, EvalRun
from domain.users.models import User

runner = CliRunner()


def _execute(database_url: str, *statements: object) -> list[object]:
    async def go() -> list[object]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                return [await connection.execute(s) for s in statements]  # type: ignore[call-overload]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _role(database_url: str, email: str) -> str:
    async def go() -> str:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                role = await connection.scalar(select(User.role).where(User.email == email))
                return str(role)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def account(database_url: str) -> Iterator[str]:
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    _execute(
        database_url,
        insert(User).values(id=uuid.uuid4(), email=email, password_hash="!"),
    )
    yield email
    _execute(database_url, delete(User).where(User.email == email))


def test_promote_and_demote_set_the_role_by_email(database_url: str, account: str) -> None:
    env = {"DATABASE_URL": database_url}
    promoted = runner.invoke(app, ["users", "promote", account.upper()], env=env)
    assert promoted.exit_code == 0, promoted.output
    assert _role(database_url, account) == "admin"
    demoted = runner.invoke(app, ["users", "demote", account], env=env)
    assert demoted.exit_code == 0
    assert _role(database_url, account) == "student"


def test_promoting_an_unknown_email_fails_and_says_so(database_url: str) -> None:
    result = runner.invoke(
        app, ["users", "promote", "nobody-here@example.com"], env={"DATABASE_URL": database_url}
    )
    assert result.exit_code == 1
    assert "No account has this email" in result.output


@pytest.fixture
def two_runs(database_url: str) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    ids = (uuid.uuid4(), uuid.uuid4())
    rows = []
    for run_id, outcomes in zip(ids, ([True] * 8, [False] * 7 + [True]), strict=True):
        rows.append(
            insert(EvalRun).values(
                id=run_id,
                suite="plan",
                mode="scripted",
                status="finished",
                model="scripted",
                prompts={"plan/draft": "plan/draft@v1"},
                repeats=1,
                cases=8,
                passed=sum(outcomes),
                gate_failures=0,
            )
        )
        rows += [
            insert(EvalResult).values(
                id=uuid.uuid4(),
                run_id=run_id,
                case_id=f"plan/case-{n}",
                repeat=0,
                passed=passed,
                gates_passed=True,
                soft_score=None,
                scores=[],
                prompt_versions=[],
                model="scripted",
                input_tokens=1,
                output_tokens=1,
                latency_ms=1,
                transcript={"answer": f"plan {n}"},
            )
            for n, passed in enumerate(outcomes)
        ]
    _execute(database_url, *rows)
    yield ids
    _execute(database_url, delete(EvalRun).where(EvalRun.id.in_(ids)))


def test_compare_writes_both_reports_and_exits_1_on_a_regression(
    database_url: str, two_runs: tuple[uuid.UUID, uuid.UUID], tmp_path: Path
) -> None:
    baseline, candidate = two_runs
    result = runner.invoke(
        app,
        ["evals", "compare", str(baseline)[:13], str(candidate), "--out", str(tmp_path)],
        env={"DATABASE_URL": database_url},
    )
    assert result.exit_code == 1, result.output
    assert "REGRESSION" in result.output
    markdown = next(tmp_path.glob("plan-*.md")).read_text()
    assert "### plan/case-0: regressed" in markdown
    assert "McNemar p = 0.0156" in markdown  # 7 one-way flips: 2 * 0.5**7
    assert next(tmp_path.glob("plan-*.html")).read_text().startswith("<!doctype html>")

    same = runner.invoke(
        app,
        ["evals", "compare", str(baseline), str(baseline), "--out", str(tmp_path)],
        env={"DATABASE_URL": database_url},
    )
    assert same.exit_code == 0, same.output
    assert "NO REGRESSION" in same.output
