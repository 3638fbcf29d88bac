"""`studypilot evals run|compare|export`: the prompt engineer's commands (see docs/evals.md)."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli.database import application_database
from core.config import Settings, get_settings
from core.db import create_engine, create_sessionmaker, unit_of_work
from domain.embeddings.runtime import create_embedding_runtime
from domain.evals.comparison import DEFAULT_MARGIN
from domain.evals.models import EvalRun
from domain.evals.schemas import ComparisonRead
from domain.evals.service import EvalService
from evals import report
from evals.cases import SUITES, load_suite
from evals.database import fresh_database
from evals.runner import SCRIPTED_MODEL_NAME, RunOptions, RunSummary, run_suite
from prompts import Prompt, load_prompt, load_prompt_file

app = typer.Typer(help="Eval suites: run the agents on their cases, compare two runs.")
console = Console()


def parse_prompt(spec: str) -> Prompt:
    """`chat/system@v2` (a version in the tree) or `chat/system=path/to/file.md`."""
    if "=" in spec:
        name, _, path = spec.partition("=")
        return load_prompt_file(name, Path(path))
    name, _, version = spec.partition("@")
    if not version.startswith("v") or not version[1:].isdigit():
        raise typer.BadParameter(f"{spec!r}: use NAME@vN or NAME=FILE")
    return load_prompt(name, int(version[1:]))


@app.command("run")
def run(
    suite: Annotated[str, typer.Option(help=f"One of {', '.join(SUITES)}.")],
    prompt: Annotated[
        list[str] | None,
        typer.Option(help="Pin a prompt: NAME@vN or NAME=FILE (repeatable)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Run live against this model on OPENAI_BASE_URL / OPENAI_API_KEY."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, max=20)] = 1,
    cases: Annotated[str | None, typer.Option(help="Only case ids matching this glob.")] = None,
    label: Annotated[str | None, typer.Option(help="A name to recognise the run by.")] = None,
    jsonl: Annotated[Path | None, typer.Option(help="Also write the results here.")] = None,
) -> None:
    """Run a suite through the real agents; without --model, with the scripted model."""
    if suite not in SUITES:
        raise typer.BadParameter(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")
    settings = get_settings()
    if model is not None and settings.openai_base_url is None and settings.openai_api_key is None:
        raise typer.BadParameter("a live run needs OPENAI_BASE_URL or OPENAI_API_KEY")
    options = RunOptions(
        suite=suite,
        mode="live" if model else "scripted",
        model=model or SCRIPTED_MODEL_NAME,
        prompts=[parse_prompt(spec) for spec in prompt or []],
        repeats=repeats,
        case_filter=cases,
        label=label,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
    )
    total = len(load_suite(options.suite, cases))
    if total == 0:
        raise typer.BadParameter(f"no {suite} case matches {cases!r}")
    with application_database(settings) as url:
        summary = asyncio.run(_run(options, settings, url, total, jsonl))
    console.print(
        f"\nRun [bold]{summary.run_id}[/bold]: {summary.passed}/{summary.cases} cases passed, "
        f"{summary.gate_failures} hard-gate failure(s)."
    )
    for case_id in summary.failed_cases:
        console.print(f"  [red]FAIL[/red] {case_id}")
    console.print(f"Compare with: studypilot evals compare BASELINE {summary.run_id}")


async def _run(
    options: RunOptions, settings: Settings, url: str, total: int, jsonl: Path | None
) -> RunSummary:
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    embedding = create_embedding_runtime(settings)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
        ) as progress:
            task = progress.add_task(f"{options.suite}", total=total, last="")

            def advance(case_id: str, passed: bool) -> None:
                mark = "[green]pass[/green]" if passed else "[red]FAIL[/red]"
                progress.update(task, advance=1, last=f"{mark} {case_id}")

            async with fresh_database(url) as world_url:
                summary = await run_suite(
                    options,
                    settings=settings,
                    world_url=world_url,
                    results=create_sessionmaker(engine),
                    embedding=embedding,
                    on_case=advance,
                )
        if jsonl is not None:
            await _export(create_sessionmaker(engine), summary.run_id, jsonl)
        return summary
    finally:
        await engine.dispose()


@app.command("compare")
def compare(
    baseline: Annotated[str, typer.Argument(help="Run id (or a unique prefix) of the baseline.")],
    candidate: Annotated[str, typer.Argument(help="Run id (or a unique prefix) of the candidate.")],
    margin: Annotated[
        float, typer.Option(help="Non-inferiority margin, as a share (0.03 = 3 points).")
    ] = DEFAULT_MARGIN,
    out: Annotated[Path, typer.Option(help="Directory for the Markdown and HTML reports.")] = Path(
        "eval-reports"
    ),
) -> None:
    """Pair the two runs per case; exit 1 when a hard gate fails or non-inferiority is not shown."""
    settings = get_settings()
    with application_database(settings) as url:
        comparison = asyncio.run(_compare(settings, url, baseline, candidate, margin))
    out.mkdir(parents=True, exist_ok=True)
    base, cand = comparison.baseline, comparison.candidate
    stem = f"{base.suite}-{str(base.id)[:8]}-vs-{str(cand.id)[:8]}"
    markdown = out / f"{stem}.md"
    markdown.write_text(report.markdown(comparison), "utf-8")
    (out / f"{stem}.html").write_text(report.html_page(comparison), "utf-8")
    typer.echo(report.markdown(comparison).split("\n## Every case")[0])
    console.print(f"Reports: {markdown} and {out / (stem + '.html')}")
    if not comparison.non_inferior or comparison.candidate_gate_failures:
        raise typer.Exit(1)


async def _compare(
    settings: Settings, url: str, baseline: str, candidate: str, margin: float
) -> ComparisonRead:
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            base_id = await _run_id(session, baseline)
            cand_id = await _run_id(session, candidate)
            return await EvalService(session).compare(base_id, cand_id, margin)
    finally:
        await engine.dispose()


async def _run_id(session: AsyncSession, prefix: str) -> uuid.UUID:
    matches = (
        await session.scalars(
            select(EvalRun.id).where(cast(EvalRun.id, String).startswith(prefix.lower())).limit(2)
        )
    ).all()
    if len(matches) != 1:
        raise typer.BadParameter(
            f"{prefix!r} names {'no' if not matches else 'more than one'} eval run"
        )
    return uuid.UUID(str(matches[0]))


@app.command("export")
def export(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    out: Annotated[Path, typer.Option(help="JSONL file: one result per line.")],
) -> None:
    """Write a run's results (scores, tokens, latency, transcript) as JSON lines."""
    settings = get_settings()
    with application_database(settings) as url:
        asyncio.run(_export_run(settings, url, run_id, out))
    console.print(f"Wrote {out}")


async def _export_run(settings: Settings, url: str, run_id: str, out: Path) -> None:
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    try:
        sessions = create_sessionmaker(engine)
        async with unit_of_work(sessions) as session:
            found = await _run_id(session, run_id)
        await _export(sessions, found, out)
    finally:
        await engine.dispose()


async def _export(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID, out: Path) -> None:
    async with unit_of_work(sessions) as session:
        detail = await EvalService(session).get_run(run_id)
    with out.open("w", encoding="utf-8") as file:
        for result in detail.results:
            line = {"run_id": str(run_id), "suite": detail.suite, **result.model_dump(mode="json")}
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
