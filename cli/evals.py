"""`studypilot evals run|compare|export`: the prompt engineer's commands (see docs/evals.md).

Thin: the work is in `cli/eval_jobs.py`, imported when a command runs, so other commands
(`studypilot run`, `serve`, `db`) do not pay for loading the agents and the statistics stack.
"""

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.database import application_database
from core.config import get_settings
from domain.evals.comparison import DEFAULT_MARGIN
from evals.cases import SUITES, load_suite
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
    judge: Annotated[
        bool,
        typer.Option(
            help="Also rate chat and summary answers with a judge model: "
            "STUDYPILOT_LLM_JUDGE_MODEL (else --model) live, the scripted judge otherwise."
        ),
    ] = False,
) -> None:
    """Run a suite through the real agents; without --model, with the scripted model."""
    from agents.llm import choose_model
    from cli import eval_jobs
    from evals.runner import SCRIPTED_JUDGE_NAME, SCRIPTED_MODEL_NAME, RunOptions

    if suite not in SUITES:
        raise typer.BadParameter(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")
    settings = get_settings()
    if model is not None and settings.openai_base_url is None and settings.openai_api_key is None:
        raise typer.BadParameter("a live run needs OPENAI_BASE_URL or OPENAI_API_KEY")
    judge_name = None
    if judge:
        configured = choose_model(settings, "judge")
        judge_name = (
            SCRIPTED_JUDGE_NAME if model is None else configured.name if configured else model
        )
    options = RunOptions(
        suite=suite,
        mode="live" if model else "scripted",
        model=model or SCRIPTED_MODEL_NAME,
        prompts=[parse_prompt(spec) for spec in prompt or []],
        repeats=repeats,
        case_filter=cases,
        label=label,
        judge=judge_name,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        timeout_seconds=settings.llm_timeout_seconds,
    )
    total = len(load_suite(options.suite, cases))
    if total == 0:
        raise typer.BadParameter(f"no {suite} case matches {cases!r}")
    with application_database(settings) as url:
        summary = asyncio.run(eval_jobs.run(options, settings, url, total, jsonl, console))
    console.print(
        f"\nRun [bold]{summary.run_id}[/bold]: {summary.passed}/{summary.cases} cases passed, "
        f"{summary.gate_failures} hard-gate failure(s)."
    )
    for case_id in summary.failed_cases:
        console.print(f"  [red]FAIL[/red] {case_id}")
    console.print(f"Compare with: studypilot evals compare BASELINE {summary.run_id}")


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
    from cli import eval_jobs
    from evals import report

    settings = get_settings()
    with application_database(settings) as url:
        try:
            comparison = asyncio.run(eval_jobs.compare(settings, url, baseline, candidate, margin))
        except eval_jobs.RunNotFoundError as exc:
            raise typer.BadParameter(str(exc)) from exc
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


@app.command("export")
def export(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")],
    out: Annotated[Path, typer.Option(help="JSONL file: one result per line.")],
) -> None:
    """Write a run's results (scores, tokens, latency, transcript) as JSON lines."""
    from cli import eval_jobs

    settings = get_settings()
    with application_database(settings) as url:
        try:
            asyncio.run(eval_jobs.export_run(settings, url, run_id, out))
        except eval_jobs.RunNotFoundError as exc:
            raise typer.BadParameter(str(exc)) from exc
    console.print(f"Wrote {out}")
