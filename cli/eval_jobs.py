"""The work behind `studypilot evals`: imported only when an evals command runs, since it
loads the agents and the statistics stack that other commands do not need."""

import json
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.db import create_engine, create_sessionmaker, unit_of_work
from domain.embeddings.runtime import create_embedding_runtime
from domain.evals.models import EvalRun
from domain.evals.schemas import ComparisonRead
from domain.evals.service import EvalService
from evals.database import fresh_database
from evals.runner import RunOptions, RunSummary, run_suite


class RunNotFoundError(LookupError):
    """A run id (or prefix) that names no run, or several."""


async def run(
    options: RunOptions,
    settings: Settings,
    url: str,
    total: int,
    jsonl: Path | None,
    console: Console,
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
            await export(create_sessionmaker(engine), summary.run_id, jsonl)
        return summary
    finally:
        await engine.dispose()


async def compare(
    settings: Settings, url: str, baseline: str, candidate: str, margin: float
) -> ComparisonRead:
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            base_id = await run_id_for(session, baseline)
            cand_id = await run_id_for(session, candidate)
            return await EvalService(session).compare(base_id, cand_id, margin)
    finally:
        await engine.dispose()


async def run_id_for(session: AsyncSession, prefix: str) -> uuid.UUID:
    matches = (
        await session.scalars(
            select(EvalRun.id).where(cast(EvalRun.id, String).startswith(prefix.lower())).limit(2)
        )
    ).all()
    if len(matches) != 1:
        raise RunNotFoundError(
            f"{prefix!r} names {'no' if not matches else 'more than one'} eval run"
        )
    return uuid.UUID(str(matches[0]))


async def export_run(settings: Settings, url: str, run_id: str, out: Path) -> None:
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    try:
        sessions = create_sessionmaker(engine)
        async with unit_of_work(sessions) as session:
            found = await run_id_for(session, run_id)
        await export(sessions, found, out)
    finally:
        await engine.dispose()


async def export(sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID, out: Path) -> None:
    async with unit_of_work(sessions) as session:
        detail = await EvalService(session).get_run(run_id)
    with out.open("w", encoding="utf-8") as file:
        for result in detail.results:
            line = {"run_id": str(run_id), "suite": detail.suite, **result.model_dump(mode="json")}
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
