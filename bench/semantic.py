"""Semantic search over 100,000 resource vectors through the production code path.

Each query calls `domain.search.ranking.search_page` itself (what the resources repository
reaches through `list_or_search` when there is a query: a
`SET LOCAL hnsw.iterative_scan = relaxed_order`, then the MATERIALIZED CTE of the 100 nearest
rows of the current embedding model under the caller's conditions, re-ranked and paged) with
`limit=10`, inside one transaction, one query at a time. Exact results come from the same call
with `SET LOCAL enable_indexscan = off` (a sequential or bitmap scan, then an exact sort).
"""

import asyncio
import re
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench.vectors import ClusteredSpace, Vector, to_pgvector_binary
from core.pagination import PageParams
from domain.resources.models import Resource
from domain.search.ranking import SearchQuery, search_page

USERS = 1_000
PER_USER = 100
MODEL_ID = "all-MiniLM-L6-v2"
INDEX_NAME = "ix_resources_embedding_hnsw"
TOP_K = 10
WARMUP_QUERIES = 30
QUERIES = 300
KNOB_QUERIES = 100  # per setting, the first of the QUERIES (their exact answers are known)
FORCED_QUERIES = 100  # the HNSW-forced filtered variant is slow: fewer queries
FORCED_KNOB_QUERIES = 20
# Index parameters tried against the migration's (pgvector defaults m = 16, ef_construction = 64).
ALTERNATIVE_INDEX_OPTIONS = "m = 24, ef_construction = 128"
PRODUCTION_SCAN = "relaxed_order"

# (label, SET LOCAL statements, iterative scan mode): the knobs tried around the defaults.
KNOBS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("defaults (ef_search 40, relaxed_order)", (), PRODUCTION_SCAN),
    ("ef_search 20", ("SET LOCAL hnsw.ef_search = 20",), PRODUCTION_SCAN),
    ("ef_search 100", ("SET LOCAL hnsw.ef_search = 100",), PRODUCTION_SCAN),
    ("ef_search 200", ("SET LOCAL hnsw.ef_search = 200",), PRODUCTION_SCAN),
    ("iterative_scan strict_order", (), "strict_order"),
    ("iterative_scan off", (), "off"),
    ("max_scan_tuples 5000", ("SET LOCAL hnsw.max_scan_tuples = 5000",), PRODUCTION_SCAN),
    ("max_scan_tuples 100000", ("SET LOCAL hnsw.max_scan_tuples = 100000",), PRODUCTION_SCAN),
    (
        "ef_search 100 + max_scan_tuples 50000",
        ("SET LOCAL hnsw.ef_search = 100", "SET LOCAL hnsw.max_scan_tuples = 50000"),
        PRODUCTION_SCAN,
    ),
)
# The planner answers a one-user query from the user_id btree indexes (100 rows, exact sort)
# rather than the HNSW index. To see what the HNSW path costs when it is taken (a user with
# many resources, or a filter no btree serves), these indexes are dropped and sequential scans
# disabled inside the query's transaction, which is then rolled back: the SQL stays exactly the
# production statement.
USER_BTREE_INDEXES = ("uq_resources_user_id_url", "ix_resources_user_id_created_at")


@dataclass(frozen=True)
class Variant:
    mode: str
    filtered: bool
    hide_btree: bool = False


VARIANTS = (
    Variant("unfiltered", filtered=False),
    Variant("filtered (one user)", filtered=True),
    Variant("filtered, HNSW path forced", filtered=True, hide_btree=True),
)


@dataclass
class Measured:
    label: str
    mode: str
    p50_ms: float
    p95_ms: float
    recall: float
    queries: int


@dataclass
class IndexBuild:
    options: str
    seconds: float
    size: str


@dataclass
class SemanticResults:
    rows: int = 0
    users: int = USERS
    generate_seconds: float = 0.0
    load_seconds: float = 0.0
    index_definition: str = ""
    builds: list[IndexBuild] = field(default_factory=list)  # the migration's first
    alternative: list[Measured] = field(default_factory=list)  # on builds[1]
    settings: dict[str, str] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    exact_p50_ms: dict[str, float] = field(default_factory=dict)
    production: list[Measured] = field(default_factory=list)
    knobs: list[Measured] = field(default_factory=list)


@dataclass(frozen=True)
class Query:
    vector: Vector
    user_id: uuid.UUID | None  # None: unfiltered


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _load(
    dsn: str, space: ClusteredSpace, results: SemanticResults
) -> dict[uuid.UUID, list[int]]:
    """Users and their vectors, the HNSW index dropped first (`_build_index` re-creates it)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(USERS)]
    interests = [space.user_topics() for _ in users]
    rows: list[tuple[Any, ...]] = []
    for n, (user_id, topics) in enumerate(zip(users, interests, strict=True)):
        for k in range(PER_USER):
            rows.append(
                (uuid.uuid4(), user_id, f"Resource {k} of user {n}", "article", [], "manual",
                 to_pgvector_binary(space.sample(topics)), MODEL_ID, "ready", now, now, now)
            )  # fmt: skip
    results.generate_seconds = time.perf_counter() - started
    connection = await asyncpg.connect(dsn)
    try:
        await connection.set_type_codec(
            "vector", encoder=lambda b: b, decoder=lambda b: b, format="binary"
        )
        results.index_definition = await connection.fetchval(
            "SELECT pg_get_indexdef($1::regclass)", INDEX_NAME
        )
        await connection.execute(f"DROP INDEX {INDEX_NAME}")
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "users",
            records=[(u, f"s{n}@bench.example.com", "x", now, now) for n, u in enumerate(users)],
            columns=("id", "email", "password_hash", "created_at", "updated_at"),
        )
        await connection.copy_records_to_table(
            "resources",
            records=rows,
            columns=("id", "user_id", "title", "type", "tags", "source", "embedding",
                     "embedding_model", "embedding_status", "embedded_at", "created_at",
                     "updated_at"),
        )  # fmt: skip
        await connection.execute("VACUUM ANALYZE resources")
        results.load_seconds = time.perf_counter() - started
        results.rows = len(rows)
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for name in ("hnsw.ef_search", "hnsw.iterative_scan", "hnsw.max_scan_tuples"):
            results.settings[name] = await connection.fetchval(f"SHOW {name}")
        results.settings["hnsw.iterative_scan (as search_page sets it)"] = PRODUCTION_SCAN
    finally:
        await connection.close()
    return dict(zip(users, interests, strict=True))


def _options_of(definition: str) -> str:
    found = re.search(r"WITH\s*\((.*)\)\s*$", definition)
    return found.group(1) if found else "none given, pgvector defaults m = 16, ef_construction = 64"


async def _build_index(dsn: str, definition: str, options: str | None) -> IndexBuild:
    """(Re)create the HNSW index, timed; then read it and the table into shared buffers."""
    # The migration's definition carries its own `WITH (...)`: alternatives replace it.
    base = re.sub(r"\s+WITH\s*\(.*\)\s*$", "", definition)
    statement = definition if options is None else f"{base} WITH ({options})"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
        started = time.perf_counter()
        await connection.execute(statement)
        seconds = time.perf_counter() - started
        await connection.execute("ANALYZE resources")
        size = await connection.fetchval(
            "SELECT pg_size_pretty(pg_relation_size($1::regclass))", INDEX_NAME
        )
        await connection.execute(f"SELECT pg_prewarm('{INDEX_NAME}'), pg_prewarm('resources')")
    finally:
        await connection.close()
    label = options or f"migration's: {_options_of(definition)}"
    return IndexBuild(label, seconds, size)


async def _force_hnsw(session: AsyncSession) -> None:
    """Inside the (rolled back) transaction: no user_id btree, no sequential scan."""
    await session.execute(text(f"DROP INDEX {', '.join(USER_BTREE_INDEXES)}"))
    await session.execute(text("SET LOCAL enable_seqscan = off"))


class Runner:
    """Runs `search_page` the way the resources repository does, with optional knobs."""

    def __init__(self, url: str) -> None:
        self.engine = create_async_engine(url, pool_size=1, max_overflow=0)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.iterative_scan = PRODUCTION_SCAN
        self.captured: tuple[str, Any] | None = None
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._rewrite, retval=True)

    def _rewrite(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        # search_page sets the production scan mode itself; the knob sweep swaps the value.
        if statement.startswith("SET LOCAL hnsw.iterative_scan"):
            statement = f"SET LOCAL hnsw.iterative_scan = {self.iterative_scan}"
        elif "nearest" in statement:
            self.captured = (statement, parameters)
        return statement, parameters

    async def search(
        self, query: Query, settings: Sequence[str] = (), *, hide_btree: bool = False
    ) -> tuple[list[uuid.UUID], float]:
        conditions: list[ColumnElement[bool]] = []
        if query.user_id is not None:
            conditions.append(Resource.user_id == query.user_id)
        async with self.sessions() as session:
            try:
                if hide_btree:
                    await _force_hnsw(session)
                for statement in settings:
                    await session.execute(text(statement))
                started = time.perf_counter()
                hits, _ = await search_page(
                    session,
                    Resource,
                    conditions,
                    SearchQuery(vector=query.vector, model_id=MODEL_ID),
                    PageParams(limit=TOP_K),
                )
                elapsed = time.perf_counter() - started
                ids = [resource.id for resource, _ in hits]
            finally:
                await session.rollback()  # read-only; and it restores any hidden index
        return ids, elapsed * 1000

    async def explain(
        self, query: Query, settings: Sequence[str] = (), *, hide_btree: bool = False
    ) -> str:
        """EXPLAIN ANALYZE of the exact statement search_page sent for `query`."""
        await self.search(query, settings, hide_btree=hide_btree)
        assert self.captured is not None
        statement, parameters = self.captured
        async with self.sessions() as session:
            try:
                if hide_btree:
                    await _force_hnsw(session)
                scan = f"SET LOCAL hnsw.iterative_scan = {self.iterative_scan}"
                for setting in (*settings, scan):
                    await session.execute(text(setting))
                connection = await session.connection()
                result = await connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", parameters
                )
                return "\n".join(row[0] for row in result)
            finally:
                await session.rollback()

    async def close(self) -> None:
        await self.engine.dispose()


@contextmanager
def _scan_mode(runner: Runner, mode: str) -> Iterator[None]:
    runner.iterative_scan = mode
    try:
        yield
    finally:
        runner.iterative_scan = PRODUCTION_SCAN


def _recall(found: Sequence[uuid.UUID], exact: Sequence[uuid.UUID]) -> float:
    return len(set(found) & set(exact)) / max(1, min(TOP_K, len(exact)))


async def _measure(
    runner: Runner,
    label: str,
    variant: Variant,
    queries: Sequence[Query],
    exact: Sequence[list[uuid.UUID]],
    settings: Sequence[str] = (),
) -> Measured:
    latencies: list[float] = []
    recalls: list[float] = []
    for query, truth in zip(queries, exact, strict=False):
        ids, elapsed = await runner.search(query, settings, hide_btree=variant.hide_btree)
        latencies.append(elapsed)
        recalls.append(_recall(ids, truth))
    return Measured(
        label=label,
        mode=variant.mode,
        p50_ms=percentile(latencies, 0.5),
        p95_ms=percentile(latencies, 0.95),
        recall=statistics.fmean(recalls),
        queries=len(latencies),
    )


def _plan_summary(plan: str) -> str:
    keep = ("Scan", "Sort", "Limit", "Execution Time", "Rows Removed", "Buffers: shared hit")
    lines = [line.rstrip() for line in plan.splitlines() if any(k in line for k in keep)]
    return "\n".join(lines[:14])


async def run_semantic(url: str, dsn: str, log: Any = print) -> SemanticResults:
    """`url` is the SQLAlchemy URL, `dsn` the plain one, of a freshly migrated, empty database."""
    results = SemanticResults()
    space = ClusteredSpace()
    topics_of = await _load(dsn, space, results)
    results.builds.append(await _build_index(dsn, results.index_definition, None))
    log(
        f"  semantic: {results.rows} vectors generated in {results.generate_seconds:.1f} s, "
        f"loaded in {results.load_seconds:.1f} s, "
        f"HNSW built in {results.builds[0].seconds:.1f} s"
    )
    user_ids = list(topics_of)
    queries: dict[bool, list[Query]] = {False: [], True: []}  # keyed by "filtered"
    for _ in range(WARMUP_QUERIES + QUERIES):
        queries[False].append(Query(space.sample(), None))
        user = space.rng.choice(user_ids)
        queries[True].append(Query(space.sample(topics_of[user]), user))

    runner = Runner(url)
    try:
        exact: dict[bool, list[list[uuid.UUID]]] = {}
        for filtered, batch in queries.items():
            for query in batch[:WARMUP_QUERIES]:
                await runner.search(query)
            truths: list[list[uuid.UUID]] = []
            exact_ms: list[float] = []
            for query in batch[WARMUP_QUERIES:]:
                ids, elapsed = await runner.search(query, ("SET LOCAL enable_indexscan = off",))
                truths.append(ids)
                exact_ms.append(elapsed)
            exact[filtered] = truths
            name = "filtered (one user)" if filtered else "unfiltered"
            results.exact_p50_ms[name] = percentile(exact_ms, 0.5)

        async def measure(
            label: str, variant: Variant, count: int, settings: Sequence[str] = ()
        ) -> Measured:
            batch = queries[variant.filtered]
            for query in batch[:5]:  # this variant's statement and plan warm
                await runner.search(query, settings, hide_btree=variant.hide_btree)
            subset = batch[WARMUP_QUERIES : WARMUP_QUERIES + count]
            return await _measure(runner, label, variant, subset, exact[variant.filtered], settings)

        for variant in VARIANTS:
            count = FORCED_QUERIES if variant.hide_btree else QUERIES
            last = await measure("production defaults", variant, count)
            results.production.append(last)
            plan = await runner.explain(
                queries[variant.filtered][WARMUP_QUERIES], hide_btree=variant.hide_btree
            )
            results.plans[variant.mode] = _plan_summary(plan)
            log(
                f"  semantic {variant.mode}: p50 {last.p50_ms:.2f} ms, p95 {last.p95_ms:.2f} ms, "
                f"recall@10 {last.recall:.3f}"
            )
        knob_variants = [v for v in VARIANTS if not v.filtered or v.hide_btree]
        for label, settings, scan in KNOBS:
            with _scan_mode(runner, scan):
                for variant in knob_variants:
                    count = FORCED_KNOB_QUERIES if variant.hide_btree else KNOB_QUERIES
                    results.knobs.append(await measure(label, variant, count, settings))
            pair = results.knobs[-len(knob_variants) :]
            log(
                f"  knob {label}: "
                + "; ".join(f"{m.mode} p95 {m.p95_ms:.2f} ms recall {m.recall:.3f}" for m in pair)
            )

        build = await _build_index(dsn, results.index_definition, ALTERNATIVE_INDEX_OPTIONS)
        results.builds.append(build)
        log(f"  HNSW rebuilt WITH ({build.options}) in {build.seconds:.1f} s")
        unfiltered, forced = VARIANTS[0], VARIANTS[2]
        results.alternative += [
            await measure("production defaults", unfiltered, QUERIES),
            await measure(
                "ef_search 100", unfiltered, KNOB_QUERIES, ("SET LOCAL hnsw.ef_search = 100",)
            ),
            await measure("production defaults", forced, FORCED_KNOB_QUERIES),
        ]
        for m in results.alternative:
            log(f"  {m.label}, {m.mode}: p95 {m.p95_ms:.2f} ms, recall@10 {m.recall:.3f}")
    finally:
        await runner.close()
    return results


if __name__ == "__main__":
    from bench.postgres import bench_postgres, create_database, plain_url

    with bench_postgres() as server:
        database_url = asyncio.run(create_database(server, "bench_semantic"))
        print(asyncio.run(run_semantic(database_url, plain_url(server, "bench_semantic"))))
