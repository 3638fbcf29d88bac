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

from bench import chat_report, data, report
from bench.http_bench import HttpResults, run_http
from bench.http_load import client_name, use_python_client
from bench.postgres import bench_postgres, create_database, plain_url
from bench.semantic import SemanticResults, run_semantic

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
COMMAND = ".venv/bin/python -m bench.run"


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
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--client",
        choices=("auto", "python"),
        default="auto",
        help="HTTP load generator: wrk when installed (auto), else the Python one",
    )
    args = parser.parse_args()
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
            loaded = asyncio.run(data.load(dsn))
            log(f"  loaded {loaded.rows} in {loaded.seconds:.1f} s")
            http = asyncio.run(run_http(url, dsn, server.process.pid, loaded, log))
        if not args.skip_semantic:
            log("Semantic search: migrating, generating, loading, indexing...")
            url = asyncio.run(create_database(server, "bench_semantic"))
            dsn = plain_url(server, "bench_semantic")
            info |= asyncio.run(_versions(dsn))
            semantic = asyncio.run(run_semantic(url, dsn, log))
    info["busy_before"] = f"{busy_before:.0%}"
    info["runtime"] = f"{(time.monotonic() - started) / 60:.1f} min"
    # The chat benchmark runs on its own (bench.chat_overhead); its section is kept.
    chat_section = chat_report.read_section(args.output)
    args.output.write_text(report.render(COMMAND, info, loaded, http, semantic))
    if chat_section is not None:
        chat_report.write_section(args.output, chat_section)
    log(f"wrote {args.output} in {info['runtime']}")


if __name__ == "__main__":
    main()
