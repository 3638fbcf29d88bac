"""The HTTP benchmark's data set: 1,000 users x (50 goals, 50 notes, 50 resources, 5 weekly
schedule series) plus a few progress events per goal, loaded with binary COPY through asyncpg."""

import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.vocabulary import QUERY_TERMS, Vocabulary
from domain.schedule.recurrence import Series

USERS = 1_000
PER_USER = 50
SERIES_PER_USER = 5
MAX_EVENTS_PER_GOAL = 6  # uniform 0..6: 3 on average
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo")
RESOURCE_TYPES = ("article", "video", "book", "course", "exercise", "other")
GOAL_STATUSES = ("active",) * 6 + ("paused", "completed", "abandoned")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Not a valid Argon2 hash on purpose: the benchmark never logs in, it issues tokens directly.
NO_LOGIN_HASH = "bench-user-cannot-log-in"


@dataclass
class LoadedData:
    user_ids: list[uuid.UUID]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # Full-text query term -> resources matching it across all users.
    term_matches: dict[str, int] = field(default_factory=dict)


def _spread(rng: random.Random, count: int, since: datetime, until: datetime) -> list[datetime]:
    """`count` distinct sorted instants between since and until (created_at keys stay unique)."""
    span = int((until - since).total_seconds() * 1_000_000)
    offsets = sorted(rng.sample(range(span), count))
    return [since + timedelta(microseconds=offset) for offset in offsets]


def _users(now: datetime, rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    created = _spread(rng, count, now - timedelta(days=730), now - timedelta(days=400))
    return [
        (uuid.uuid4(), f"user{n}@bench.example.com", NO_LOGIN_HASH, f"Bench User {n}",
         rng.choice(TIMEZONES), "{}", created[n], created[n])
        for n in range(count)
    ]  # fmt: skip


def _goal_target(rng: random.Random) -> tuple[int | None, int | None]:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice((300, 600, 1200, 3000)), None
    if roll < 0.8:
        return None, rng.randrange(4, 30)
    return None, None


def _goals_and_events(
    user_ids: Sequence[uuid.UUID], now: datetime, rng: random.Random, words: Vocabulary
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    goals: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    today = now.date()
    for user_id in user_ids:
        for created in _spread(rng, PER_USER, now - timedelta(days=365), now - timedelta(days=1)):
            goal_id = uuid.uuid4()
            minutes, modules = _goal_target(rng)
            status = rng.choice(GOAL_STATUSES)
            target_date: date | None = (
                today + timedelta(days=rng.randrange(-30, 180)) if rng.random() < 0.7 else None
            )
            completed_at = (
                created + timedelta(days=rng.randrange(1, 60)) if status == "completed" else None
            )
            title = f"{words.concept().capitalize()} in {words.subject()}"
            goals.append(
                (goal_id, user_id, None, title, words.paragraph(12), target_date, minutes,
                 modules, status, completed_at, created, created)
            )  # fmt: skip
            # Recent, partly consecutive days so streaks and on-track math have work to do.
            for day in sorted(rng.sample(range(45), rng.randrange(MAX_EVENTS_PER_GOAL + 1))):
                occurred = now - timedelta(days=day, minutes=rng.randrange(1, 600))
                events.append(
                    (uuid.uuid4(), goal_id, user_id, rng.choice((15, 25, 30, 45, 60, 90)),
                     rng.randrange(0, 3), None, occurred, occurred)
                )  # fmt: skip
    return goals, events


def _notes(
    user_ids: Sequence[uuid.UUID], now: datetime, rng: random.Random, words: Vocabulary
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for user_id in user_ids:
        for created in _spread(rng, PER_USER, now - timedelta(days=365), now):
            rows.append(
                (uuid.uuid4(), user_id, None, None, words.title(), words.paragraph(60),
                 words.tags(), "pending", created, created)
            )  # fmt: skip
    return rows


def _resources(
    user_ids: Sequence[uuid.UUID], now: datetime, rng: random.Random, words: Vocabulary
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for user_id in user_ids:
        for n, created in enumerate(_spread(rng, PER_USER, now - timedelta(days=365), now)):
            url = f"https://learn.example.org/{words.subject()}/{n}" if rng.random() < 0.8 else None
            rows.append(
                (uuid.uuid4(), user_id, None, words.title(), url, rng.choice(RESOURCE_TYPES),
                 words.paragraph(rng.randrange(15, 40)), words.tags(), "manual", "pending",
                 created, created)
            )  # fmt: skip
    return rows


def weekly_block(
    user_id: uuid.UUID, n: int, rng: random.Random, today: date, timezone: str
) -> tuple[Any, ...]:
    """A weekly series (one in four every other week) that started in the past year, unbounded."""
    weekday = rng.randrange(7)
    first = today - timedelta(days=rng.randrange(7, 365))
    first -= timedelta(days=(first.weekday() - weekday) % 7)
    hour, minute = rng.randrange(7, 21), 15 * rng.randrange(4)
    start = datetime(first.year, first.month, first.day, hour, minute, tzinfo=ZoneInfo(timezone))
    end = start + timedelta(minutes=rng.choice((30, 45, 60, 90)))
    interval = ";INTERVAL=2" if n % 4 == 0 else ""
    rrule = f"FREQ=WEEKLY{interval};BYDAY={WEEKDAYS[weekday]}"
    series = Series(start, end, timezone, rrule)
    series.validate()
    created = datetime.combine(first, datetime.min.time(), UTC)
    return (uuid.uuid4(), user_id, f"Block {n}", series.start, series.end, timezone, rrule,
            series.series_until(), rng.choice(("study", "class")), created, created)  # fmt: skip


def _schedule_blocks(
    users: Sequence[tuple[Any, ...]], now: datetime, rng: random.Random
) -> list[tuple[Any, ...]]:
    return [
        weekly_block(user[0], n, rng, now.date(), user[4])
        for user in users
        for n in range(SERIES_PER_USER)
    ]


COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "password_hash", "name", "timezone", "study_preferences",
              "created_at", "updated_at"),
    "goals": ("id", "user_id", "course_id", "title", "description", "target_date",
              "target_minutes", "target_modules", "status", "completed_at", "created_at",
              "updated_at"),
    "goal_progress_events": ("id", "goal_id", "user_id", "minutes", "modules_completed", "note",
                             "occurred_at", "created_at"),
    "notes": ("id", "user_id", "course_id", "module_id", "title", "body", "tags",
              "embedding_status", "created_at", "updated_at"),
    "resources": ("id", "user_id", "course_id", "title", "url", "type", "description", "tags",
                  "source", "embedding_status", "created_at", "updated_at"),
    "schedule_blocks": ("id", "user_id", "title", "start_at", "end_at", "timezone", "rrule",
                        "series_until", "kind", "created_at", "updated_at"),
}  # fmt: skip


async def load(dsn: str, *, seed: int = 42, users: int = USERS) -> LoadedData:
    """Fill a freshly migrated database; VACUUM ANALYZE it so plans see real statistics."""
    started = time.perf_counter()
    rng = random.Random(seed)
    words = Vocabulary(rng)
    now = datetime.now(UTC)
    user_rows = _users(now, rng, users)
    user_ids = [row[0] for row in user_rows]
    goals, events = _goals_and_events(user_ids, now, rng, words)
    tables: dict[str, list[tuple[Any, ...]]] = {
        "users": user_rows,
        "goals": goals,
        "goal_progress_events": events,
        "notes": _notes(user_ids, now, rng, words),
        "resources": _resources(user_ids, now, rng, words),
        "schedule_blocks": _schedule_blocks(user_rows, now, rng),
    }
    connection = await asyncpg.connect(dsn)
    try:
        for table, rows in tables.items():
            await connection.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
        await connection.execute("VACUUM ANALYZE")
        term_matches = {
            term: await connection.fetchval(
                "SELECT count(*) FROM resources "
                "WHERE search @@ websearch_to_tsquery('english', $1)",
                term,
            )
            for term in QUERY_TERMS
        }
    finally:
        await connection.close()
    return LoadedData(
        user_ids=user_ids,
        rows={table: len(rows) for table, rows in tables.items()},
        seconds=time.perf_counter() - started,
        term_matches=term_matches,
    )
