"""The HTTP benchmark: GET /goals, GET /resources?q= and a month of GET /schedule on the real app
and on the baseline."""

import json
import random
import secrets
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.data import LoadedData
from bench.http_load import (
    DURATION_SECONDS,
    WARMUP_SECONDS,
    CpuMeter,
    LoadResult,
    measure,
    warm_up,
    write_requests,
)
from bench.servers import Server, start_app, start_baseline
from bench.vocabulary import QUERY_TERMS
from core.config import Settings, default_workers
from core.security import TokenCodec

# The multi-process figure: as many API processes as `serve` starts by default here.
MULTI_PROCESS_WORKERS = default_workers()
REQUEST_MIX = 5_000  # distinct (user, term) requests the client picks from at random
CHECK_USERS = 15


@dataclass
class Phase:
    endpoint: str
    server: str
    result: LoadResult | None = None
    statements_per_request: float = 0.0
    new_connections: int = 0  # database sessions opened by the server while measured
    db_ms_per_request: float = 0.0  # Postgres execution time, pg_stat_statements
    skipped: str | None = None


@dataclass(frozen=True)
class Budget:
    """How long each phase loads the servers: the full run's, or `--quick`'s."""

    warm_up_seconds: float = WARMUP_SECONDS
    measure_seconds: float = DURATION_SECONDS


@dataclass
class HttpResults:
    budget: Budget = field(default_factory=Budget)
    phases: list[Phase] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    statements: dict[str, list[tuple[int, float, str]]] = field(default_factory=dict)

    def phase(self, endpoint: str, server: str) -> Phase | None:
        return next((p for p in self.phases if p.endpoint == endpoint and p.server == server), None)


def _get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def _goals_key(body: Any) -> Any:
    return [(item["id"], item["progress"]) for item in body["items"]], body["next_cursor"] is None


def _resources_key(body: Any) -> Any:
    return [(item["id"], round(item["score"], 5)) for item in body["items"]]


def _schedule_key(body: Any) -> Any:
    # Instants, not strings: Pydantic writes a zero offset as "Z", isoformat() as "+00:00".
    instants = ("start", "end", "original_start")
    return [
        (item["block_id"], item["title"], *(datetime.fromisoformat(item[k]) for k in instants))
        for item in body["items"]
    ]


def _next_month() -> str:
    """`from=&to=` of the next calendar month."""
    first = (datetime.now(UTC).date().replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return f"from={first.isoformat()}&to={last.isoformat()}"


def _compare(
    app: Server,
    baseline: Server,
    cases: Sequence[tuple[str, str, str]],
    key: Callable[[Any], Any],
) -> str:
    """Same answers from both servers (ids, order, progress / scores) for a sample of users."""
    for app_path, baseline_path, token in cases:
        app_status, app_body = _get(app.base_url + app_path, token)
        base_status, base_body = _get(baseline.base_url + baseline_path, token)
        if app_status != 200:
            return f"app answered {app_status} for {app_path}"
        if base_status != 200:
            return f"baseline answered {base_status} for {baseline_path}"
        if key(app_body) != key(base_body):
            return f"answers differ for {app_path}"
    return f"identical answers for {len(cases)} sampled requests"


async def _statements_reset(dsn: str) -> int:
    """Reset pg_stat_statements; return the database's session count (this one included)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_stat_statements_reset()")
        sessions: int = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        return sessions
    finally:
        await connection.close()


async def _statements(dsn: str) -> tuple[list[tuple[int, float, str]], int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT calls, total_exec_time, query FROM pg_stat_statements "
            "WHERE query NOT ILIKE '%pg_stat%' ORDER BY calls DESC"
        )
        sessions: int = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    statements = [(r["calls"], r["total_exec_time"], " ".join(r["query"].split())) for r in rows]
    return statements, sessions


async def run_http(
    database_url: str,
    dsn: str,
    postmaster_pid: int,
    data: LoadedData,
    log: Callable[[str], None],
    budget: Budget,
) -> HttpResults:
    results = HttpResults(budget)
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(env="production", jwt_secret=secret, access_token_ttl_seconds=3600))
    tokens = {user: codec.issue(user, "access")[0] for user in data.user_ids}
    rng = random.Random(1)
    mix: list[tuple[uuid.UUID, str]] = [
        (rng.choice(data.user_ids), rng.choice(QUERY_TERMS)) for _ in range(REQUEST_MIX)
    ]
    month = _next_month()
    endpoints: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
        "GET /goals": (
            [("/api/v1/goals", tokens[user]) for user, _ in mix],
            [("/goals", tokens[user]) for user, _ in mix],
        ),
        "GET /resources?q=": (
            [(f"/api/v1/resources?q={urllib.parse.quote(t)}", tokens[u]) for u, t in mix],
            [(f"/resources?q={urllib.parse.quote(t)}", tokens[u]) for u, t in mix],
        ),
        "GET /schedule?from=&to=": (
            [(f"/api/v1/schedule?{month}", tokens[user]) for user, _ in mix],
            [(f"/schedule?{month}", tokens[user]) for user, _ in mix],
        ),
    }
    keys = {
        "GET /goals": _goals_key,
        "GET /resources?q=": _resources_key,
        "GET /schedule?from=&to=": _schedule_key,
    }

    async with asyncpg.create_pool(dsn, min_size=1, max_size=1) as pool:
        await pool.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    work_dir = Path(tempfile.mkdtemp(prefix="studypilot-bench-http-"))
    servers: list[Server] = []
    try:
        baseline = start_baseline(dsn, secret, work_dir)
        servers.append(baseline)
        app = start_app(database_url, secret, work_dir)
        servers.append(app)
        # What `serve` does by default: one process per core.
        scaled = start_app(database_url, secret, work_dir, workers=MULTI_PROCESS_WORKERS)
        servers.append(scaled)
        for server in servers:
            server.wait_ready()
        # The app loads its embedding model in a background thread after start-up: let it
        # finish, or it would take CPU from whichever server is measured first.
        for server in servers:
            waited = server.wait_idle()
            log(f"  {server.name} ready and idle after {waited:.0f} s more")
        for endpoint, (app_lines, baseline_lines) in endpoints.items():
            cases = [(a[0], b[0], a[1]) for a, b in zip(app_lines, baseline_lines, strict=True)]
            check = _compare(app, baseline, cases[:CHECK_USERS], keys[endpoint])
            results.checks[endpoint] = check
            log(f"  {endpoint}: {check}")
            app_ok = not check.startswith("app answered")
            for server, lines in (
                (baseline, baseline_lines),
                (app, app_lines),
                (scaled, app_lines),
            ):
                phase = Phase(endpoint, server.name)
                results.phases.append(phase)
                if server is not baseline and not app_ok:
                    phase.skipped = check
                    continue
                name = f"{server.name}-{len(results.phases)}"
                requests_file = write_requests(work_dir, name, lines)
                warm_up(server.port, requests_file, budget.warm_up_seconds)
                sessions_before = await _statements_reset(dsn)
                meter = CpuMeter(server.process.pid, postmaster_pid)
                phase.result = measure(server.port, requests_file, meter, budget.measure_seconds)
                statements, sessions_after = await _statements(dsn)
                # Minus this benchmark's own reading connection.
                phase.new_connections = sessions_after - sessions_before - 1
                requests = max(1, phase.result.requests)
                phase.statements_per_request = sum(c for c, _, _ in statements) / requests
                phase.db_ms_per_request = sum(ms for _, ms, _ in statements) / requests
                results.statements[f"{endpoint} {server.name}"] = statements[:8]
                r = phase.result
                log(
                    f"  {endpoint} {server.name}: {r.rps:.0f} req/s, p50 {r.p50_ms:.1f} ms, "
                    f"p99 {r.p99_ms:.1f} ms, errors {r.errors}, "
                    f"{phase.statements_per_request:.1f} statements/request, "
                    f"{phase.new_connections} new database connections"
                )
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work_dir, ignore_errors=True)
    return results
