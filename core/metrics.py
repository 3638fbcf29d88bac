"""Prometheus metrics: what the API, its database pool, its agents and its limits are doing.

Module-level instruments in prometheus_client's default registry: one set per process, whatever
the number of apps in it. Labels are bounded on purpose: route templates (never raw paths),
graph and model names from settings, limit scopes from code.
"""

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

HTTP_REQUESTS = Counter(
    "studypilot_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "studypilot_http_request_duration_seconds",
    "Time to answer an HTTP request (until its response ends), by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
AI_RUNS = Counter(
    "studypilot_ai_runs",
    "Agent runs, by graph, model and outcome (ok, or the error code).",
    ["graph", "model", "outcome"],
)
AI_TOKENS = Counter(
    "studypilot_ai_tokens",
    "Model tokens spent by agent runs, by graph, model and direction (input, output).",
    ["graph", "model", "direction"],
)
AI_DURATION = Histogram(
    "studypilot_ai_run_duration_seconds",
    "Wall time of agent runs, by graph and model.",
    ["graph", "model"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
)
RATE_LIMIT_REJECTIONS = Counter(
    "studypilot_rate_limit_rejections",
    "Requests refused with 429, by limit scope (login:client, register:client, ai, ...).",
    ["scope"],
)


class PoolCollector(Collector):
    """The SQLAlchemy pool's figures, read at scrape time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._pool = engine.sync_engine.pool

    def describe(self) -> list[GaugeMetricFamily]:
        # Nothing declared up front: apps in one process (tests) may each register one.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not isinstance(self._pool, QueuePool):
            return
        connections = GaugeMetricFamily(
            "studypilot_db_pool_connections",
            "Database connections of this process's pool, by state.",
            labels=["state"],
        )
        connections.add_metric(["checked_out"], self._pool.checkedout())
        connections.add_metric(["idle"], self._pool.checkedin())
        connections.add_metric(["overflow"], max(0, self._pool.overflow()))
        yield connections
        size = GaugeMetricFamily(
            "studypilot_db_pool_size", "Configured size of the database pool (before overflow)."
        )
        size.add_metric([], self._pool.size())
        yield size


def watch_pool(engine: AsyncEngine) -> PoolCollector:
    collector = PoolCollector(engine)
    REGISTRY.register(collector)
    return collector


def unwatch_pool(collector: PoolCollector) -> None:
    REGISTRY.unregister(collector)
