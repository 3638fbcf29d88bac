"""The reads part of the growth benchmark: one user's lists and searches at a small and a large
data size, and a month of schedule with a few and with hundreds of recurring blocks.

Rows are loaded with binary COPY straight into the tables (the API would take minutes for
10,000 notes); notes carry a vector of the app's current embedding model, so semantic and
hybrid search rank them, while the query vector is the app's own (the local model embeds each
query, as in production). Requests are sent one at a time (concurrency 1) over keep-alive HTTP,
so each latency is one request's own; the app process's CPU per request is read from /proc and
Postgres's execution time per request from pg_stat_statements, two figures that depend far less on
other work running on the machine than latency does.
"""

import itertools
import random
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psycopg

from bench.chat_results import percentile
from bench.data import (
    COLUMNS,
    GOAL_STATUSES,
    MAX_EVENTS_PER_GOAL,
    NO_LOGIN_HASH,
    _goal_target,
    _spread,
    weekly_block,
)
from bench.growth_chat import ProcessCpu
from bench.vectors import ClusteredSpace, to_pgvector_binary
from bench.vocabulary import QUERY_TERMS, Vocabulary

# Vectors are compared only with those of the model that embeds the queries (the app's default).
EMBEDDING_MODEL_ID = "local:all-MiniLM-L6-v2"
SEMANTIC_QUERIES = (
    "how do cells turn food into energy",
    "proving a limit exists",
    "causes of the first world war",
    "what makes an algorithm efficient",
    "balancing chemical equations",
)
SCHEDULE_ZONE = "Europe/Paris"
NOTE_COLUMNS = (*COLUMNS["notes"], "embedding", "embedding_model", "embedded_at")


@dataclass(frozen=True)
class ReadPhase:
    endpoint: str
    size: str  # what the user has: "100 goals / notes", "500 recurring blocks", ...
    requests: int
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # per request
    database_ms: float  # Postgres execution time per request (pg_stat_statements)
    items: float  # items answered per request, on average


async def add_user(dsn: str, label: str, timezone: str = "UTC") -> uuid.UUID:
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    email = f"{label}-{user_id.hex[:12]}@bench.example.com"
    row = (user_id, email, NO_LOGIN_HASH, f"Bench {label}", timezone, "{}", now, now)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table("users", records=[row], columns=COLUMNS["users"])
    finally:
        await connection.close()
    return user_id


def _goal_rows(
    user_id: uuid.UUID, count: int, rng: random.Random, words: Vocabulary
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = datetime.now(UTC)
    goals: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for created in _spread(rng, count, now - timedelta(days=3 * 365), now - timedelta(days=1)):
        goal_id = uuid.uuid4()
        minutes, modules = _goal_target(rng)
        status = rng.choice(GOAL_STATUSES)
        completed = (
            created + timedelta(days=rng.randrange(1, 60)) if status == "completed" else None
        )
        target = (
            now.date() + timedelta(days=rng.randrange(-30, 180)) if rng.random() < 0.7 else None
        )
        goals.append(
            (goal_id, user_id, None, f"{words.concept().capitalize()} in {words.subject()}",
             words.paragraph(12), target, minutes, modules, status, completed, created, created)
        )  # fmt: skip
        for day in sorted(rng.sample(range(45), rng.randrange(MAX_EVENTS_PER_GOAL + 1))):
            occurred = now - timedelta(days=day, minutes=rng.randrange(1, 600))
            events.append(
                (uuid.uuid4(), goal_id, user_id, rng.choice((15, 25, 30, 45, 60, 90)),
                 rng.randrange(0, 3), None, occurred, occurred)
            )  # fmt: skip
    return goals, events


def _note_rows(
    user_id: uuid.UUID,
    count: int,
    rng: random.Random,
    words: Vocabulary,
    space: ClusteredSpace,
    topics: list[int],
) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    return [
        (uuid.uuid4(), user_id, None, None, words.title(), words.paragraph(60), words.tags(),
         "ready", created, created, to_pgvector_binary(space.sample(topics)),
         EMBEDDING_MODEL_ID, created)
        for created in _spread(rng, count, now - timedelta(days=3 * 365), now)
    ]  # fmt: skip


async def add_goals_and_notes(dsn: str, user_id: uuid.UUID, count: int, seed: int) -> None:
    """`count` more goals (with their progress events) and notes (embedded) for the user."""
    rng = random.Random(seed)
    words = Vocabulary(rng)
    space = ClusteredSpace()
    goals, events = _goal_rows(user_id, count, rng, words)
    notes = _note_rows(user_id, count, rng, words, space, space.user_topics())
    connection = await asyncpg.connect(dsn)
    try:
        await connection.set_type_codec(
            "vector", encoder=lambda b: b, decoder=lambda b: b, format="binary"
        )
        await connection.copy_records_to_table("goals", records=goals, columns=COLUMNS["goals"])
        await connection.copy_records_to_table(
            "goal_progress_events", records=events, columns=COLUMNS["goal_progress_events"]
        )
        await connection.copy_records_to_table("notes", records=notes, columns=NOTE_COLUMNS)
        await connection.execute("VACUUM ANALYZE goals, goal_progress_events, notes")
    finally:
        await connection.close()


async def add_schedule(dsn: str, user_id: uuid.UUID, blocks: int, seed: int) -> None:
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    rows = [weekly_block(user_id, n, rng, today, SCHEDULE_ZONE) for n in range(blocks)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "schedule_blocks", records=rows, columns=COLUMNS["schedule_blocks"]
        )
        await connection.execute("VACUUM ANALYZE schedule_blocks")
    finally:
        await connection.close()


def next_month(today: date) -> tuple[date, date]:
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


def read_paths() -> dict[str, list[str]]:
    """The paths each read endpoint cycles through."""
    terms = [urllib.parse.quote(term) for term in QUERY_TERMS]
    meanings = [urllib.parse.quote(query) for query in SEMANTIC_QUERIES]
    return {
        "GET /goals": ["/api/v1/goals"],
        "GET /goals?status=active": ["/api/v1/goals?status=active"],
        "GET /notes": ["/api/v1/notes"],
        "GET /notes?q=": [f"/api/v1/notes?q={term}" for term in terms],
        "GET /notes?semantic=": [f"/api/v1/notes?semantic={m}" for m in meanings],
        "GET /notes?q=&semantic=": [
            f"/api/v1/notes?q={term}&semantic={m}"
            for term, m in zip(terms, itertools.cycle(meanings), strict=False)
        ],
    }


def _statements_ms(connection: psycopg.Connection, reset: bool) -> float:
    """Postgres execution time of every statement so far; with `reset`, start again from 0."""
    row = connection.execute(
        "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements "
        "WHERE query NOT ILIKE '%pg_stat_statements%'"
    ).fetchone()
    if reset:
        connection.execute("SELECT pg_stat_statements_reset()")
    assert row is not None
    return float(row[0])


def time_reads(
    client: httpx.Client,
    database: psycopg.Connection,
    token: str,
    cpu: ProcessCpu,
    endpoint: str,
    paths: Sequence[str],
    size: str,
    requests: int,
    log: Callable[[str], None],
) -> ReadPhase:
    headers = {"Authorization": f"Bearer {token}"}
    cycle = itertools.cycle(paths)
    for path in itertools.islice(cycle, len(paths) + 5):  # warm-up: every path once
        client.get(path, headers=headers).raise_for_status()
    cpu.refresh()
    latencies: list[float] = []
    items = 0
    _statements_ms(database, reset=True)
    server_before, _ = cpu.sample()
    for path in itertools.islice(cycle, requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
        items += len(response.json()["items"])
    server_after, _ = cpu.sample()
    database_ms = _statements_ms(database, reset=False)
    phase = ReadPhase(
        endpoint=endpoint,
        size=size,
        requests=requests,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        server_cpu_ms=(server_after - server_before) * 1000 / requests,
        database_ms=database_ms / requests,
        items=items / requests,
    )
    log(
        f"  {endpoint} ({size}): p50 {phase.p50_ms:.1f} ms, p99 {phase.p99_ms:.1f} ms, "
        f"CPU {phase.server_cpu_ms:.1f} ms/request, Postgres {phase.database_ms:.2f} ms/request, "
        f"{phase.items:.0f} items"
    )
    return phase
