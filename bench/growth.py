"""Growth benchmark: does a request cost more as what it works on grows?

    .venv/bin/python -m bench.growth            # 27 minutes on a fully busy 2-core machine
    .venv/bin/python -m bench.growth --quick    # 150 turns, 2,000 rows: a few minutes

Most of the full run is its 1,000 chat turns, which take longer the longer the conversation:
that growth is what it measures.

Against the real app (`python -m cli serve`, one process, production settings) on a fresh
embedded Postgres (`bench/postgres.py`), with the chat model a stub that answers at once
(`bench/chat_stub.py`, delay 0, its own process):

1. Chat: one conversation driven over HTTP to 1,000 turns (quick: 150). Per turn: latency, CPU
   of the app and of Postgres, WAL bytes written; compared in windows at turns 1, 100 and the
   last (target: the last within 1.2x of turn 1, bytes per turn flat), plus what the
   conversation keeps stored.
2. Data size: one user's GET /goals and GET /notes (list, ?q=, ?semantic=, both) at 100 and at
   10,000 goals and notes (quick: 2,000) (target: p99 flat).
3. Schedule: a month of GET /schedule?from=&to= with 3 and with 500 weekly series.

Writes bench/RESULTS-growth.md (quick: bench/results-growth-quick.md, not committed).
"""

import argparse
import asyncio
import secrets
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench import data, growth_report
from bench.chat_stub import StubProcess
from bench.growth_chat import ProcessCpu, run_chat_growth
from bench.growth_reads import (
    add_goals_and_notes,
    add_schedule,
    add_user,
    next_month,
    read_paths,
    time_reads,
)
from bench.growth_report import GrowthResults
from bench.postgres import bench_postgres, create_database, plain_url
from bench.run import _versions, log, machine, machine_busy_share
from bench.servers import start_app
from core.config import Settings
from core.security import TokenCodec

BENCH_DIR = Path(__file__).resolve().parent
DATABASE = "bench_growth"
MODEL = "bench-stub-model"
SMALL = 100  # goals and notes of the reading user, then as many as the mode's `large`
FEW_BLOCKS, MANY_BLOCKS = 3, 500
BACKGROUND_USERS = 100  # other users with 50 goals / notes / resources each


@dataclass(frozen=True)
class Mode:
    name: str
    command: str
    output: Path
    turns: int
    large: int  # goals and notes of the reading user, second size
    reads: int  # requests per read phase
    schedule_reads: int


FULL = Mode(
    "full",
    ".venv/bin/python -m bench.growth",
    BENCH_DIR / "RESULTS-growth.md",
    turns=1_000,
    large=10_000,
    reads=400,
    schedule_reads=100,
)
QUICK = Mode(
    "quick",
    ".venv/bin/python -m bench.growth --quick",
    BENCH_DIR / "results-growth-quick.md",
    turns=150,
    large=2_000,
    reads=60,
    schedule_reads=30,
)


def chat_windows(turns: int) -> list[tuple[int, int]]:
    """Turns 1-20, 91-110 and the last 20 (each window's turns are aggregated)."""
    return [(1, 20), (91, 110), (turns - 19, turns)]


def app_env(stub_url: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": stub_url,
        "OPENAI_API_KEY": "bench-key",
        "STUDYPILOT_LLM_MODEL": MODEL,
        # The limits are checked as in production; they just never refuse a benchmark turn.
        "STUDYPILOT_AI_REQUESTS_PER_MINUTE": "1000000",
        "STUDYPILOT_AI_TOKENS_PER_DAY": "1000000000",
    }


def measure(mode: Mode, results: GrowthResults) -> None:
    with bench_postgres() as server:
        assert server.process is not None
        url = asyncio.run(create_database(server, DATABASE))
        dsn = plain_url(server, DATABASE)
        results.info |= asyncio.run(_versions(dsn))
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        loaded = asyncio.run(data.load(dsn, users=BACKGROUND_USERS))
        results.background = loaded.rows
        chat_user = asyncio.run(add_user(dsn, "chat"))
        reader = asyncio.run(add_user(dsn, "reader"))
        few = asyncio.run(add_user(dsn, "few-blocks", "Europe/Paris"))
        many = asyncio.run(add_user(dsn, "many-blocks", "Europe/Paris"))
        asyncio.run(add_goals_and_notes(dsn, reader, SMALL, seed=1))
        asyncio.run(add_schedule(dsn, few, FEW_BLOCKS, seed=2))
        asyncio.run(add_schedule(dsn, many, MANY_BLOCKS, seed=3))
        secret = secrets.token_urlsafe(48)
        codec = TokenCodec(
            Settings(env="production", jwt_secret=secret, access_token_ttl_seconds=3600)
        )
        token = {user: codec.issue(user, "access")[0] for user in (chat_user, reader, few, many)}
        work_dir = Path(tempfile.mkdtemp(prefix="studypilot-bench-growth-"))
        try:
            with StubProcess(delay_seconds=0.0) as stub:
                app = start_app(url, secret, work_dir, 1, **app_env(stub.base_url))
                try:
                    app.wait_ready()
                    log(f"app ready, idle after {app.wait_idle():.0f} s more (embedding model)")
                    cpu = ProcessCpu(app.process.pid, server.process.pid)
                    _reads(mode, results, app.base_url, token[reader], cpu, dsn, reader)
                    _schedule(mode, results, app.base_url, dsn, token[few], token[many], cpu)
                    log(f"chat: one conversation to {mode.turns} turns...")
                    stored_at = sorted({1, 100, mode.turns} | {w[1] for w in results.windows})
                    results.chat = run_chat_growth(
                        app.base_url, token[chat_user], dsn, cpu, mode.turns, stored_at, log
                    )
                finally:
                    app.stop()
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)


def _reads(
    mode: Mode,
    results: GrowthResults,
    base_url: str,
    token: str,
    cpu: ProcessCpu,
    dsn: str,
    reader: uuid.UUID,
) -> None:
    paths = read_paths()
    with (
        httpx.Client(base_url=base_url, timeout=60) as client,
        psycopg.connect(dsn, autocommit=True) as database,
    ):
        for size in (SMALL, mode.large):
            if size == mode.large:
                log(f"loading {mode.large - SMALL:,} more goals and notes...")
                started = time.monotonic()
                asyncio.run(add_goals_and_notes(dsn, reader, mode.large - SMALL, seed=4))
                log(f"  loaded in {time.monotonic() - started:.0f} s")
            label = f"{size:,} goals / notes"
            for endpoint, endpoint_paths in paths.items():
                results.reads.append(
                    time_reads(
                        client,
                        database,
                        token,
                        cpu,
                        endpoint,
                        endpoint_paths,
                        label,
                        mode.reads,
                        log,
                    )
                )


def _schedule(
    mode: Mode,
    results: GrowthResults,
    base_url: str,
    dsn: str,
    few: str,
    many: str,
    cpu: ProcessCpu,
) -> None:
    first, last = next_month(datetime.now(UTC).date())
    path = f"/api/v1/schedule?from={first.isoformat()}&to={last.isoformat()}"
    results.month = f"{first.isoformat()}..{last.isoformat()}"
    with (
        httpx.Client(base_url=base_url, timeout=60) as client,
        psycopg.connect(dsn, autocommit=True) as database,
    ):
        for token, blocks in ((few, FEW_BLOCKS), (many, MANY_BLOCKS)):
            results.schedule.append(
                time_reads(
                    client,
                    database,
                    token,
                    cpu,
                    "GET /schedule?from=&to=",
                    [path],
                    f"{blocks} weekly series",
                    mode.schedule_reads,
                    log,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer turns and requests")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    started = time.monotonic()
    busy_before = machine_busy_share()
    info = machine() | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "busy_before": f"{busy_before:.0%}",
    }
    log(f"machine: {info['cpu']}, {info['memory']}; CPU busy before start: {busy_before:.0%}")
    results = GrowthResults(info, chat_windows(mode.turns))
    measure(mode, results)
    info["busy_after"] = f"{machine_busy_share():.0%}"
    info["runtime"] = f"{(time.monotonic() - started) / 60:.1f} min"
    output: Path = args.output or mode.output
    output.write_text(growth_report.render(mode.command, results))
    log(f"wrote {output} in {info['runtime']}")


if __name__ == "__main__":
    main()
