"""CRUD latency while slow AI calls are in flight: does a slow model starve the API?

The real API (`python -m cli serve`, default pool: 10 connections) on a fresh embedded
Postgres; the model is a scripted OpenAI-compatible server that takes 20 s per answer. At each
level, that many `POST /ai/summary` calls (one per student, each on a new course, so none is
served from the cache) are sent and left waiting on the model; once the model has received
them all, `GET /goals` is timed back to back until the AI calls answer. Written into
`bench/RESULTS.md` between its markers:

    .venv/bin/python -m bench.slow_models
"""

import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx

from bench.postgres import bench_postgres, create_database, server_tempdir
from bench.servers import Server, _base_env, _spawn, free_port
from tests.support.scripted_openai import Answer, ScriptedOpenAI

MODEL_SECONDS = 20.0
LEVELS = (0, 10, 20, 40, 80)
# Idle level: as long a sample as the others get while the model thinks.
IDLE_SAMPLE_SECONDS = 15.0
P99_TARGET_MS = 100.0
RESULTS = Path(__file__).parent / "RESULTS.md"
START_MARK = "<!-- slow-models:start -->"
END_MARK = "<!-- slow-models:end -->"
STARTUP_ATTEMPTS = 4
JWT_SECRET = "bench-secret-" + "0123456789abcdef" * 4


def start_api(database_url: str, model_url: str, log_dir: Path) -> Server:
    port = free_port()
    env = _base_env() | {
        "STUDYPILOT_ENV": "production",
        "STUDYPILOT_JWT_SECRET": JWT_SECRET,
        "STUDYPILOT_LOG_LEVEL": "WARNING",
        "STUDYPILOT_HOST": "127.0.0.1",
        "STUDYPILOT_EMBEDDING_WARM_UP": "false",
        "STUDYPILOT_LLM_MODEL": "gpt-slow",
        "STUDYPILOT_LLM_TIMEOUT_SECONDS": str(MODEL_SECONDS * 3),
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "bench",
        "DATABASE_URL": database_url,
        "PORT": str(port),
    }
    process, log_path = _spawn("app", [sys.executable, "-m", "cli", "serve"], env, log_dir)
    return Server("app", process, port, "/api/v1/health", log_path)


async def student(client: httpx.AsyncClient) -> dict[str, str]:
    account = {"email": f"s-{uuid.uuid4().hex[:12]}@example.com", "password": "bench password 1"}
    (await client.post("/auth/register", json=account)).raise_for_status()
    login = await client.post("/auth/login", json=account)
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def new_course(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    body = {"title": "Algebra", "description": f"Groups and rings, take {uuid.uuid4().hex}."}
    response = await client.post("/courses", headers=headers, json=body)
    response.raise_for_status()
    course_id: str = response.json()["id"]
    return course_id


async def crud_sample(
    client: httpx.AsyncClient, headers: dict[str, str], done: Callable[[], bool]
) -> tuple[list[float], int]:
    """`GET /goals` latencies (ms), back to back until `done()`."""
    latencies: list[float] = []
    failures = 0
    while not done():
        started = time.perf_counter()
        response = await client.get("/goals", headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        failures += response.status_code != 200
    return latencies, failures


def _past(moment: float) -> bool:
    return time.monotonic() >= moment


def p99(values: list[float]) -> float:
    # Inclusive: never past the largest sample, whatever the sample size.
    return (
        statistics.quantiles(values, n=100, method="inclusive")[98]
        if len(values) >= 2
        else values[0]
    )


async def measure(base_url: str, model: ScriptedOpenAI) -> list[dict[str, float | int]]:
    limits = httpx.Limits(max_connections=max(LEVELS) + 20, max_keepalive_connections=20)
    timeout = httpx.Timeout(MODEL_SECONDS * 4)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        reader = await student(client)
        students = [await student(client) for _ in range(max(LEVELS))]
        rows: list[dict[str, float | int]] = []
        for level in LEVELS:
            courses = [await new_course(client, headers) for headers in students[:level]]
            received = len(model.requests)
            ai_calls = [
                asyncio.ensure_future(
                    client.post("/ai/summary", headers=headers, json={"course_id": course_id})
                )
                for headers, course_id in zip(students, courses, strict=False)
            ]
            # The model runs in this process's other thread: polling bridges the two loops.
            while len(model.requests) < received + level:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if ai_calls:
                everything = asyncio.gather(*ai_calls)
                latencies, failures = await crud_sample(client, reader, everything.done)
                answers = await everything
            else:
                idle_until = time.monotonic() + IDLE_SAMPLE_SECONDS
                latencies, failures = await crud_sample(client, reader, partial(_past, idle_until))
                answers = []
            rows.append(
                {
                    "level": level,
                    "requests": len(latencies),
                    "p50": statistics.median(latencies),
                    "p99": p99(latencies),
                    "max": max(latencies),
                    "crud_failures": failures,
                    "ai_ok": sum(answer.status_code == 200 for answer in answers),
                }
            )
            print(rows[-1], flush=True)
    return rows


def report(rows: list[dict[str, float | int]], started: float, load: float) -> str:
    idle = rows[0]
    over = [row["level"] for row in rows if row["p99"] > P99_TARGET_MS]
    worst = max(rows[1:], key=lambda row: row["p99"])
    if not over:
        verdict = (
            f"CRUD p99 stayed under {P99_TARGET_MS:.0f} ms at every level up to {max(LEVELS)} "
            "concurrent AI calls."
        )
    elif over[0] == 0:
        verdict = (
            f"CRUD p99 was over {P99_TARGET_MS:.0f} ms already with no AI call in flight: the "
            f"machine was busy with other work (load average {load:.1f} on its two cores), so "
            "the absolute target cannot be read from this run. What can: with up to "
            f"{max(LEVELS)} AI calls waiting, no CRUD request failed and the worst p99 "
            f"({worst['p99']:.0f} ms at {worst['level']}) is {worst['p99'] / idle['p99']:.1f}x "
            "the idle one."
        )
    else:
        verdict = f"CRUD p99 passed {P99_TARGET_MS:.0f} ms first at {over[0]} concurrent AI calls."
    lines = [
        START_MARK,
        "## Slow models vs CRUD (20 s model, default pool)",
        "",
        "Generated by `.venv/bin/python -m bench.slow_models` "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {(time.monotonic() - started) / 60:.1f} min; "
        f"{platform.machine()}, Python {platform.python_version()}, load average {load:.1f} "
        "at the start). The real API "
        "(`cli serve`, default pool) on a fresh embedded Postgres; a scripted model answering "
        f"after {MODEL_SECONDS:.0f} s; at each level that many `POST /ai/summary` calls wait on "
        "it (one per student, uncached) while `GET /goals` is timed back to back over real "
        "HTTP. Client, API, Postgres and model share this machine's two cores.",
        "",
        "| Concurrent AI calls | CRUD requests | p50 ms | p99 ms | max ms | CRUD non-200 "
        "| AI 200 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {row['level']} | {row['requests']} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['max']:.1f} | {row['crud_failures']} | {row['ai_ok']} |"
            for row in rows
        ),
        "",
        verdict + " Before this change, two such calls with a pool of 2 made `GET /goals` "
        "answer 500 after 30 s (each held a connection for the model's whole wait).",
        END_MARK,
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if START_MARK in text and END_MARK in text:
        before, rest = text.split(START_MARK, 1)
        _, after = rest.split(END_MARK, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def wait_ready(api: Server) -> None:
    """Longer than `Server.wait_ready` allows: on a busy machine the app's imports alone can take
    a minute."""
    for attempt in range(STARTUP_ATTEMPTS):
        try:
            api.wait_ready()
            return
        except RuntimeError:
            if api.process.poll() is not None or attempt == STARTUP_ATTEMPTS - 1:
                raise


def main() -> None:
    started = time.monotonic()
    load = os.getloadavg()[0]
    log_dir = server_tempdir("studypilot-bench-slow-")
    reply = Answer("A short summary of the course.")
    with (
        ScriptedOpenAI(responder=lambda _: reply, delay_seconds=MODEL_SECONDS) as model,
        bench_postgres() as postgres,
    ):
        database_url = asyncio.run(create_database(postgres, "studypilot_bench_slow"))
        api = start_api(database_url, model.base_url, log_dir)
        try:
            wait_ready(api)
            rows = asyncio.run(measure(f"{api.base_url}/api/v1", model))
        finally:
            api.stop()
    write(report(rows, started, load))


if __name__ == "__main__":
    main()
