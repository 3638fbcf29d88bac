"""The HTTP baseline: a bare Starlette app doing the endpoints' work with raw asyncpg.

Per request, like the real app: verify the bearer JWT (HS256, same claims), load the user row,
run the same SQL (mirrored from domain/goals/repository.py, domain/search/ranking.py and
domain/schedule/repository.py), derive goal progress and expand schedule series with the same pure
functions (domain/goals/progress.py, domain/schedule/recurrence.py), and answer the same JSON.
What it leaves out is the framework around that work: FastAPI's dependency injection and
validation, the SQLAlchemy ORM and unit of work (pool pre-ping, BEGIN/COMMIT), Pydantic response
models and the middleware stack.

Serve: uvicorn bench.baseline_app:create_app --factory (BENCH_DSN, BENCH_JWT_SECRET in the env).
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.pagination import encode_cursor
from domain.goals import progress
from domain.schedule.recurrence import Override, Series, local_day_bounds

PAGE = 20
# The real app's pool: STUDYPILOT_DB_POOL_SIZE (10), no overflow; the baseline may use 20.
POOL_MIN, POOL_MAX = 10, 20

USER_SQL = "SELECT id, timezone FROM users WHERE id = $1"
# GoalRepository.list_page via core.pagination.paginate: newest first, one extra row for the cursor.
GOALS_SQL = """
SELECT id, title, description, course_id, target_date, target_minutes, target_modules, status,
       completed_at, created_at, updated_at
FROM goals WHERE user_id = $1
ORDER BY created_at DESC, id DESC LIMIT $2
"""
# GoalRepository.progress_totals: sums and distinct local days per goal, in one grouped query.
PROGRESS_SQL = """
SELECT goal_id, coalesce(sum(minutes), 0) AS minutes,
       coalesce(sum(modules_completed), 0) AS modules,
       array_agg(DISTINCT CAST(timezone($2, occurred_at) AS DATE)) AS days
FROM goal_progress_events WHERE goal_id = ANY($1::uuid[])
GROUP BY goal_id
"""
# ranking.search_page, text only: ts_rank_cd over the user's matching rows, (score, id) keyset.
RESOURCES_SQL = """
SELECT r.id, r.title, r.url, r.type, r.description, r.tags, r.course_id, r.source,
       r.recommendation_id, r.embedding_status, r.created_at, r.updated_at, hit.score
FROM resources r
JOIN (
    SELECT id, ts_rank_cd(search, websearch_to_tsquery('english', $2)) AS score
    FROM resources
    WHERE user_id = $1 AND search @@ websearch_to_tsquery('english', $2)
) AS hit ON r.id = hit.id
ORDER BY hit.score DESC, r.id DESC LIMIT $3
"""

# ScheduleRepository.overlapping: blocks whose span may reach the window, or with an occurrence
# moved into it; then their exceptions (the app's selectinload).
BLOCKS_SQL = """
SELECT b.id, b.title, b.start_at, b.end_at, b.timezone, b.rrule, b.kind, b.course_id, b.goal_id
FROM schedule_blocks b
WHERE b.user_id = $1 AND (
    (b.start_at < $3 AND (b.series_until IS NULL OR b.series_until > $2))
    OR EXISTS (
        SELECT 1 FROM schedule_exceptions e
        WHERE e.block_id = b.id AND NOT e.cancelled AND e.new_start < $3 AND e.new_end > $2
    )
)
ORDER BY b.start_at, b.id
"""
EXCEPTIONS_SQL = """
SELECT block_id, original_start, cancelled, new_start, new_end, new_title
FROM schedule_exceptions WHERE block_id = ANY($1::uuid[])
"""


class Unauthorized(Exception):
    pass


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value))


def _respond(body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body, default=_json_default, separators=(",", ":")),
        media_type="application/json",
    )


def _page(rows: list[Any], sort_keys: tuple[str, str]) -> tuple[list[Any], str | None]:
    if len(rows) <= PAGE:
        return rows, None
    rows = rows[:PAGE]
    return rows, encode_cursor([rows[-1][sort_keys[0]], rows[-1][sort_keys[1]]])


async def _keep_as_is(_connection: asyncpg.Connection) -> None:
    """No RESET ALL / UNLISTEN / CLOSE ALL round trip on release: these handlers leave no
    session state behind (the app's pool likewise only rolls back, and only when needed)."""


def create_app() -> Starlette:
    dsn = os.environ["BENCH_DSN"]
    secret = os.environ["BENCH_JWT_SECRET"]
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            dsn, min_size=POOL_MIN, max_size=POOL_MAX, reset=_keep_as_is
        )
        try:
            yield
        finally:
            await pool.close()

    def user_id_of(request: Request) -> uuid.UUID:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                issuer="studypilot",
                options={"require": ["sub", "exp", "iat", "jti", "type", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized from exc
        if claims.get("type") != "access":
            raise Unauthorized
        return uuid.UUID(claims["sub"])

    async def goals(request: Request) -> Response:
        try:
            user_id = user_id_of(request)
        except Unauthorized:
            return JSONResponse({"code": "unauthorized"}, status_code=401)
        assert pool is not None
        async with pool.acquire() as connection:
            user = await connection.fetchrow(USER_SQL, user_id)
            if user is None:
                return JSONResponse({"code": "invalid_token"}, status_code=401)
            rows, cursor = _page(
                await connection.fetch(GOALS_SQL, user_id, PAGE + 1), ("created_at", "id")
            )
            zone = progress.user_zone(user["timezone"])
            aggregates = await connection.fetch(PROGRESS_SQL, [r["id"] for r in rows], zone.key)
        totals = {
            r["goal_id"]: progress.ProgressTotals(r["minutes"], r["modules"], frozenset(r["days"]))
            for r in aggregates
        }
        today = progress.local_date(datetime.now(UTC), zone)
        items = []
        for row in rows:
            plan = progress.GoalPlan(
                status=row["status"],
                started_on=progress.local_date(row["created_at"], zone),
                target_date=row["target_date"],
                target_minutes=row["target_minutes"],
                target_modules=row["target_modules"],
            )
            derived = progress.derive_progress(
                plan, totals.get(row["id"], progress.ProgressTotals()), today
            )
            items.append(
                {
                    **dict(row),
                    "progress": {
                        "percent": derived.percent,
                        "minutes_done": derived.minutes_done,
                        "modules_done": derived.modules_done,
                        "streak_days": derived.streak_days,
                        "on_track": derived.on_track,
                    },
                }
            )
        return _respond({"items": items, "next_cursor": cursor})

    async def resources(request: Request) -> Response:
        try:
            user_id = user_id_of(request)
        except Unauthorized:
            return JSONResponse({"code": "unauthorized"}, status_code=401)
        q = request.query_params.get("q")
        if not q or len(q) > 200:
            return JSONResponse({"code": "validation_error"}, status_code=422)
        assert pool is not None
        async with pool.acquire() as connection:
            if await connection.fetchrow(USER_SQL, user_id) is None:
                return JSONResponse({"code": "invalid_token"}, status_code=401)
            rows, cursor = _page(
                await connection.fetch(RESOURCES_SQL, user_id, q, PAGE + 1), ("score", "id")
            )
        return _respond({"items": [dict(row) for row in rows], "next_cursor": cursor})

    async def schedule(request: Request) -> Response:
        try:
            user_id = user_id_of(request)
        except Unauthorized:
            return JSONResponse({"code": "unauthorized"}, status_code=401)
        try:
            first = date.fromisoformat(request.query_params["from"])
            last = date.fromisoformat(request.query_params["to"])
        except (KeyError, ValueError):
            return JSONResponse({"code": "validation_error"}, status_code=422)
        assert pool is not None
        async with pool.acquire() as connection:
            user = await connection.fetchrow(USER_SQL, user_id)
            if user is None:
                return JSONResponse({"code": "invalid_token"}, status_code=401)
            zone = ZoneInfo(user["timezone"])
            window_start, window_end = local_day_bounds(first, last, zone)
            blocks = await connection.fetch(BLOCKS_SQL, user_id, window_start, window_end)
            exceptions = await connection.fetch(EXCEPTIONS_SQL, [b["id"] for b in blocks])
        overrides: dict[uuid.UUID, dict[datetime, Override]] = {}
        for e in exceptions:
            overrides.setdefault(e["block_id"], {})[e["original_start"]] = Override(
                e["original_start"], e["cancelled"], e["new_start"], e["new_end"], e["new_title"]
            )
        found = []
        for block in blocks:
            series = Series(block["start_at"], block["end_at"], block["timezone"], block["rrule"])
            found += [
                (block, occurrence)
                for occurrence in series.expand(
                    overrides.get(block["id"], {}), window_start, window_end
                )
            ]
        found.sort(key=lambda item: (item[1].start, item[1].end, str(item[0]["id"])))
        items = [
            {
                "block_id": block["id"],
                "title": occurrence.title or block["title"],
                "start": occurrence.start.astimezone(zone),
                "end": occurrence.end.astimezone(zone),
                "original_start": occurrence.original_start.astimezone(zone),
                "kind": block["kind"],
                "is_exception": occurrence.is_exception,
                "recurring": block["rrule"] is not None,
                "course_id": block["course_id"],
                "goal_id": block["goal_id"],
            }
            for block, occurrence in found
        ]
        return _respond({"items": items})

    async def health(_request: Request) -> Response:
        assert pool is not None
        await pool.fetchval("SELECT 1")
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/goals", goals),
            Route("/resources", resources),
            Route("/schedule", schedule),
        ],
        lifespan=lifespan,
    )
