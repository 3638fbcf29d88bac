"""`evals run`: every case of a suite (times `repeats`) through the real agent, scored, stored.

One fresh database per run holds the cases' worlds (emptied between cases); results go to the
results database (`eval_runs`, `eval_results`), where `compare` and the admin API read them.
"""

import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from agents.chat.graph import build_chat_graph
from agents.checkpointer import open_checkpointer
from agents.runs import AgentRuns
from core.config import Settings
from core.db import create_sessionmaker, unit_of_work
from core.errors import AppError
from core.events import create_event_bus
from core.rate_limit import RateLimiter
from domain.agent_runs.models import AgentRun
from domain.embeddings.runtime import EmbeddingRuntime
from domain.evals.models import EvalResult, EvalRun
from domain.evals.repository import EvalRepository
from evals.cases import Case, LoadedCase, Suite, load_suite
from evals.drivers import Harness, Outcome, run_case
from evals.provider import ModelWire, chat_model
from evals.scorers import Evidence, Score, case_passed, score_case, soft_mean
from evals.scorers.gates import scoping
from evals.scorers.judge import Judge
from evals.scripted_judge import scripted_judge
from evals.scripted_model import ScriptedModel
from evals.world import build_world
from prompts import Prompt, load_prompt, pinned_prompts

Mode = Literal["scripted", "live"]
SCRIPTED_MODEL_NAME = "scripted"
SCRIPTED_JUDGE_NAME = "scripted-judge"
# The prompts each suite's agent reads; shown with the run so a comparison names what changed.
SUITE_PROMPTS: dict[str, tuple[str, ...]] = {
    "chat": ("chat/system",),
    "summary": ("summary/map", "summary/reduce"),
    "plan": ("plan/draft",),
    "recommend": ("recommend/rerank",),
}
ProgressCallback = Callable[[str, bool], None]


@dataclass(frozen=True)
class RunOptions:
    suite: Suite
    mode: Mode = "scripted"
    model: str = SCRIPTED_MODEL_NAME
    prompts: Sequence[Prompt] = ()
    repeats: int = 1
    case_filter: str | None = None
    label: str | None = None
    # The judge model for the rubrics (scripted runs: SCRIPTED_JUDGE_NAME); None: no rubrics.
    judge: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = 60.0


@dataclass
class RunSummary:
    run_id: uuid.UUID
    cases: int
    passed: int
    gate_failures: int
    failed_cases: list[str] = field(default_factory=list)


async def run_suite(
    options: RunOptions,
    *,
    settings: Settings,
    world_url: str,
    results: async_sessionmaker[AsyncSession],
    embedding: EmbeddingRuntime,
    on_case: ProgressCallback | None = None,
    cases: Sequence[LoadedCase] | None = None,
) -> RunSummary:
    """Run the suite against the empty, migrated database at `world_url`."""
    loaded = list(cases) if cases is not None else load_suite(options.suite, options.case_filter)
    if not loaded:
        raise ValueError(f"no {options.suite} case matches {options.case_filter!r}")
    with pinned_prompts(options.prompts):
        prompt_refs = {name: load_prompt(name).ref for name in SUITE_PROMPTS[options.suite]}
    async with unit_of_work(results) as session:
        run = await EvalRepository(session).add_run(
            EvalRun(
                suite=options.suite,
                mode=options.mode,
                status="running",
                model=options.model,
                judge=options.judge,
                prompts=prompt_refs,
                repeats=options.repeats,
                case_filter=options.case_filter,
                label=options.label,
                cases=len(loaded),
                passed=0,
                gate_failures=0,
            )
        )
    summary = RunSummary(run.id, len(loaded), 0, 0)
    engine = create_async_engine(world_url, pool_size=4)
    # The world's own bus: what the agents' writes announce stays inside the world.
    world_bus = create_event_bus(
        settings.model_copy(update={"database_url": world_url, "redis_url": None})
    )
    world_sessions = create_sessionmaker(engine, world_bus)
    wire = ModelWire()
    scripted = ScriptedModel() if options.mode == "scripted" else None
    model = chat_model(
        model=options.model,
        wire=wire,
        policy=scripted,
        base_url=options.base_url,
        api_key=options.api_key,
        timeout=options.timeout_seconds,
    )
    # A generous per-user limit: eval users make a handful of calls each, but repeats add up.
    eval_settings = settings.model_copy(
        update={
            "ai_requests_per_minute": 10_000,
            # The scripted model answers for structure with a tool call, as tool-calling
            # servers do; live runs ask the way the API asks (STUDYPILOT_LLM_STRUCTURED_OUTPUT).
            **({"llm_structured_output": "tool_calling"} if scripted is not None else {}),
        }
    )
    runs = AgentRuns(eval_settings, world_sessions, RateLimiter(None, namespace="evals"))
    judge = _judge(options, eval_settings)
    status = "failed"
    try:
        async with open_checkpointer(world_url, max_size=2) as checkpointer:
            harness = Harness(
                sessionmaker=world_sessions,
                settings=eval_settings,
                model=model,
                model_name=options.model,
                runs=runs,
                embedding=embedding,
                chat_graph=build_chat_graph(checkpointer),
            )
            for item in loaded:
                case_ok = True
                for repeat in range(options.repeats):
                    result = await _run_one(harness, item, repeat, wire, scripted, judge, options)
                    async with unit_of_work(results) as session:
                        result.run_id = run.id
                        await EvalRepository(session).add_result(result)
                    case_ok = case_ok and result.passed
                    summary.gate_failures += not result.gates_passed
                summary.passed += case_ok
                if not case_ok:
                    summary.failed_cases.append(item.case.id)
                if on_case is not None:
                    on_case(item.case.id, case_ok)
        status = "finished"
    finally:
        await engine.dispose()
        await world_bus.aclose()
        async with unit_of_work(results) as session:
            stored = await EvalRepository(session).get_run(run.id)
            assert stored is not None
            stored.status = status
            stored.passed = summary.passed
            stored.gate_failures = summary.gate_failures
            stored.finished_at = datetime.now(UTC)
    return summary


async def _run_one(
    harness: Harness,
    item: LoadedCase,
    repeat: int,
    wire: ModelWire,
    scripted: ScriptedModel | None,
    judge: Judge | None,
    options: RunOptions,
) -> EvalResult:
    case = item.case
    async with unit_of_work(harness.sessionmaker) as session:
        # Every table of the world hangs off users: one statement empties it.
        await session.execute(text("TRUNCATE users CASCADE"))
        world = await build_world(session, item.world, harness.embedding, uuid.uuid4().hex[:8])
    wire.reset()
    if scripted is not None:
        scripted.case, scripted.world = case, world
    started = time.perf_counter()
    outcome = Outcome()
    with pinned_prompts(options.prompts):
        try:
            outcome = await run_case(harness, case, world)
        except AppError as exc:
            outcome.error = f"{exc.code}: {exc.message}"
        except Exception as exc:
            outcome.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
    latency_ms = round((time.perf_counter() - started) * 1000)
    async with harness.sessionmaker() as session:
        scores: list[Score] = []
        evidence = Evidence(case, world, outcome, list(wire.requests), session)
        expected_error = case.expect.error
        if outcome.error is None:
            scores = await score_case(evidence)
            if judge is not None:
                scores += await judge.scores(evidence)
            if expected_error is not None:
                why = f"expected the error {expected_error}, the agent answered"
                scores.append(Score("expected_error", "check", False, explanation=why))
        else:
            refused = expected_error is not None and outcome.error.startswith(f"{expected_error}:")
            name = "expected_error" if expected_error is not None else "completed"
            scores = [await scoping(evidence), Score(name, "check", refused, None, outcome.error)]
        tokens = (
            await session.execute(
                select(
                    func.coalesce(func.sum(AgentRun.input_tokens), 0),
                    func.coalesce(func.sum(AgentRun.output_tokens), 0),
                    func.array_agg(AgentRun.prompt_version.distinct()),
                ).where(AgentRun.user_id == world.student.user.id)
            )
        ).one()
    return EvalResult(
        case_id=case.id,
        repeat=repeat,
        passed=case_passed(scores),
        gates_passed=all(s.passed for s in scores if s.kind == "gate"),
        soft_score=soft_mean(scores),
        scores=[s.as_json() for s in scores],
        prompt_versions=sorted(v for v in (tokens[2] or []) if v),
        model=options.model,
        input_tokens=int(tokens[0]),
        output_tokens=int(tokens[1]),
        latency_ms=latency_ms,
        error=outcome.error,
        transcript=_transcript(case, outcome, wire.requests),
    )


def _judge(options: RunOptions, settings: Settings) -> Judge | None:
    """The rubric judge on a wire of its own, so the gates never read its requests."""
    if options.judge is None:
        return None
    scripted = options.mode == "scripted"
    model = chat_model(
        model=options.judge,
        wire=ModelWire(),
        policy=scripted_judge if scripted else None,
        base_url=options.base_url,
        api_key=options.api_key,
        timeout=options.timeout_seconds,
    )
    method = "tool_calling" if scripted else settings.llm_structured_output
    return Judge(model, options.judge, method)


def _transcript(case: Case, outcome: Outcome, requests: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "input": case.model_dump(mode="json", include={"turns", "refs", "subject", "activity"}),
        "answer": outcome.answer,
        "output": outcome.output,
        "tool_calls": outcome.tool_calls,
        "changes": outcome.changes,
        "error": outcome.error,
        # Tool schemas repeat in every request; the messages are what differs.
        "model_requests": [{"messages": r.get("messages", [])} for r in requests],
    }
