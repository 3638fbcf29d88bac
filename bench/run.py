"""Run every benchmark and write bench/RESULTS.md:  .venv/bin/python -m bench.run

A fresh embedded Postgres in a temp dir; the HTTP benchmark (real app vs raw-asyncpg baseline)
and the semantic-search benchmark run against it; every process and temp dir is removed at the
end, whatever happens. Takes about 5 minutes on 2 cores. Not part of the test suite or CI.
"""

import argparse
import asyncio
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench import data, report
from bench.http_bench import Budget, HttpResults, run_http
from bench.http_load import client_name, use_python_client
from bench.postgres import bench_postgres, create_database, plain_url
from bench.semantic import SemanticResults, run_semantic

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
COMMAND = ".venv/bin/python -m bench.run"
# --quick: fewer users, shorter phases, no semantic search; its file is not committed.
QUICK_RESULTS_PATH = Path(__file__).resolve().parent / "results-quick.md"
QUICK_COMMAND = ".venv/bin/python -m bench.run --quick"
QUICK_USERS = 200
QUICK = Budget(warm_up_seconds=1.0, measure_seconds=5.0)


def log(message: str) -> None:
    print(message, flush=True)


def machine_busy_share(seconds: float = 3.0) -> float:
    """Share of the machine's CPU in use (by anything) over a short sample: other work running."""

    def ticks() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        total = sum(values[:8])
        return total - values[3] - values[4], total

    busy0, total0 = ticks()
    time.sleep(seconds)
    busy1, total1 = ticks()
    return (busy1 - busy0) / max(1, total1 - total0)


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{mem_kib / 1024 / 1024:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
    }


async def _versions(dsn: str) -> dict[str, str]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            "postgres": (await connection.fetchval("SHOW server_version")).split()[0],
            "pgvector": await connection.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ),
        }
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-http", action="store_true", help="semantic search only")
    parser.add_argument("--skip-semantic", action="store_true", help="HTTP only")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"HTTP only, {QUICK_USERS} users, {QUICK.measure_seconds:g} s per phase, "
        f"into {QUICK_RESULTS_PATH.name} unless --output: under two minutes, for comparisons",
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--client",
        choices=("auto", "python"),
        default="auto",
        help="HTTP load generator: wrk when installed (auto), else the Python one",
    )
    args = parser.parse_args()
    output: Path = args.output or (QUICK_RESULTS_PATH if args.quick else RESULTS_PATH)
    budget = QUICK if args.quick else Budget()
    if args.quick:
        args.skip_semantic = True
    if args.client == "python":
        use_python_client()

    started = time.monotonic()
    info = machine() | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "client": client_name(),
    }
    busy_before = machine_busy_share()
    log(f"machine: {info['cpu']}, {info['memory']}; CPU busy before start: {busy_before:.0%}")
    http: HttpResults | None = None
    semantic: SemanticResults | None = None
    loaded: data.LoadedData | None = None
    with bench_postgres() as server:
        assert server.process is not None
        if not args.skip_http:
            log("HTTP data set: migrating and loading...")
            url = asyncio.run(create_database(server, "bench_http"))
            dsn = plain_url(server, "bench_http")
            info |= asyncio.run(_versions(dsn))
            loaded = asyncio.run(data.load(dsn, users=QUICK_USERS if args.quick else data.USERS))
            log(f"  loaded {loaded.rows} in {loaded.seconds:.1f} s")
            http = asyncio.run(run_http(url, dsn, server.process.pid, loaded, log, budget))
        if not args.skip_semantic:
            log("Semantic search: migrating, generating, loading, indexing...")
            url = asyncio.run(create_database(server, "bench_semantic"))
            dsn = plain_url(server, "bench_semantic")
            info |= asyncio.run(_versions(dsn))
            semantic = asyncio.run(run_semantic(url, dsn, log))
    info["busy_before"] = f"{busy_before:.0%}"
    info["runtime"] = f"{(time.monotonic() - started) / 60:.1f} min"
    command = QUICK_COMMAND if args.quick else COMMAND
    # The other benchmarks (chat, voice, realtime, slow models) run on their own; their
    # sections are kept as they stand.
    others = _other_sections(output)
    output.write_text(report.render(command, info, loaded, http, semantic) + others)
    log(f"wrote {output} in {info['runtime']}")


def _other_sections(path: Path) -> str:
    """The file from the first section this run does not write (with its marker comments)."""
    lines = path.read_text().splitlines() if path.exists() else []
    own = (report.HTTP_HEADING, report.SEMANTIC_HEADING)
    for index, line in enumerate(lines):
        if line.startswith("## ") and line not in own:
            start = index
            while start > 0 and lines[start - 1].startswith("<!--"):
                start -= 1
            return "\n" + "\n".join(lines[start:]) + "\n"
    return ""


if __name__ == "__main__":
    main()
