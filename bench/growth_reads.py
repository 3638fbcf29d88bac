"""The reads part of the growth benchmark: one user's lists and searches at a small and a large
data size, and a month of schedule with a few and with hundreds of recurring blocks.

Rows are loaded with binary COPY straight into the tables (the API would take minutes for
10,000 notes); notes carry a vector of the app's current embedding model, so semantic and
hybrid search rank them, while the query vector is the app's own (the local model embeds each
query, as in production). Requests are sent one at a time (concurrency 1) over keep-alive HTTP,
so each latency is one request's own, and the app process's CPU per request is read from /proc.
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
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.chat_results import percentile
from bench.data import COLUMNS, MAX_EVENTS_PER_GOAL, NO_LOGIN_HASH, _goal_target, _spread
from bench.growth_chat import ProcessCpu
from bench.vectors import ClusteredSpace, to_pgvector_binary
from bench.vocabulary import QUERY_TERMS, Vocabulary
from domain.schedule.recurrence import Series

# Vectors are compared only with those of the model that embeds the queries (the app's default).
EMBEDDING_MODEL_ID = "local:all-MiniLM-L6-v2"
SEMANTIC_QUERIES = (
    "how do cells turn food into energy",
    "proving a limit exists",
    "causes of the first world war",
    "what makes an algorithm efficient",
    "balancing chemical equations",
)
GOAL_STATUSES = ("active",) * 6 + ("paused", "completed", "abandoned")
SCHEDULE_ZONE = "Europe/Paris"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
NOTE_COLUMNS = (*COLUMNS["notes"], "embedding", "embedding_model", "embedded_at")
BLOCK_COLUMNS = ("id", "user_id", "title", "start_at", "end_at", "timezone", "rrule",
                 "series_until", "kind", "created_at", "updated_at")  # fmt: skip


@dataclass(frozen=True)
class ReadPhase:
    endpoint: str
    size: str  # what the user has: "100 goals / notes", "500 recurring blocks", ...
    requests: int
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # per request
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


def _weekly_block(user_id: uuid.UUID, n: int, rng: random.Random, today: date) -> tuple[Any, ...]:
    """A weekly (every week or every other week) series that started in the past year."""
    zone = ZoneInfo(SCHEDULE_ZONE)
    weekday = rng.randrange(7)
    first = today - timedelta(days=rng.randrange(7, 365))
    first -= timedelta(days=(first.weekday() - weekday) % 7)
    hour = rng.randrange(7, 21)
    start = datetime(first.year, first.month, first.day, hour, 15 * rng.randrange(4), tzinfo=zone)
    end = start + timedelta(minutes=rng.choice((30, 45, 60, 90)))
    interval = ";INTERVAL=2" if n % 4 == 0 else ""
    rrule = f"FREQ=WEEKLY{interval};BYDAY={WEEKDAYS[weekday]}"
    series = Series(start, end, SCHEDULE_ZONE, rrule)
    series.validate()
    now = datetime.now(UTC)
    return (uuid.uuid4(), user_id, f"Block {n}", series.start, series.end, SCHEDULE_ZONE, rrule,
            series.series_until(), rng.choice(("study", "class")), now, now)  # fmt: skip


async def add_schedule(dsn: str, user_id: uuid.UUID, blocks: int, seed: int) -> None:
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    rows = [_weekly_block(user_id, n, rng, today) for n in range(blocks)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "schedule_blocks", records=rows, columns=BLOCK_COLUMNS
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


def time_reads(
    client: httpx.Client,
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
    server_before, _ = cpu.sample()
    for path in itertools.islice(cycle, requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
        items += len(response.json()["items"])
    server_after, _ = cpu.sample()
    phase = ReadPhase(
        endpoint=endpoint,
        size=size,
        requests=requests,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        server_cpu_ms=(server_after - server_before) * 1000 / requests,
        items=items / requests,
    )
    log(
        f"  {endpoint} ({size}): p50 {phase.p50_ms:.1f} ms, p99 {phase.p99_ms:.1f} ms, "
        f"CPU {phase.server_cpu_ms:.1f} ms/request, {phase.items:.0f} items"
    )
    return phase
