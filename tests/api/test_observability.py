"""Metrics move, /metrics is protected, traces have the expected spans (in memory and over real
OTLP/HTTP to a stand-in collector), and log lines carry request and trace ids."""

import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from langchain_core.messages import AIMessage
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from core.config import Settings
from core.security import TokenCodec
from tests.fixtures.assertions import assert_error
from tests.fixtures.client import api_client, running_app
from tests.fixtures.database import sessionmaker_for
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import scripted


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_request_metrics_move_per_route_template(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    route = "/api/v1/notes/{note_id}"
    before = sample("studypilot_http_requests_total", method="GET", route=route, status="404")
    count_before = sample(
        "studypilot_http_request_duration_seconds_count", method="GET", route=route
    )
    for _ in range(2):
        missing = await client.get(f"/notes/{uuid.uuid4()}", headers=auth_headers(codec, user))
        assert missing.status_code == 404
    after = sample("studypilot_http_requests_total", method="GET", route=route, status="404")
    assert after - before == 2
    assert (
        sample("studypilot_http_request_duration_seconds_count", method="GET", route=route)
        - count_before
        == 2
    )

    exposed = await client.get("http://test/metrics")
    assert exposed.status_code == 200
    assert exposed.headers["content-type"].startswith("text/plain")
    text = exposed.text
    assert f'route="{route}",status="404"' in text
    assert 'studypilot_db_pool_connections{state="checked_out"}' in text
    assert "studypilot_db_pool_size 10.0" in text
    # Raw paths never become label values.
    assert "/api/v1/notes/" + "0" not in text


async def test_rate_limit_rejections_are_counted_by_scope(
    settings: Settings, db_session: AsyncSession
) -> None:
    configured = settings.model_copy(update={"login_limit_per_client": "1/minute"})
    before = sample("studypilot_rate_limit_rejections_total", scope="login:client")
    async with running_app(configured, db_session) as app, api_client(app) as client:
        body = {"email": "nobody@example.com", "password": "wrong password"}
        assert (await client.post("/auth/login", json=body)).status_code == 401
        assert_error(await client.post("/auth/login", json=body), 429, "rate_limited")
    assert sample("studypilot_rate_limit_rejections_total", scope="login:client") - before == 1


async def test_ai_runs_and_tokens_are_counted_by_graph_and_model(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    # Usage is counted per model name the provider reports, as a real answer carries both.
    reply = AIMessage(
        "Hello.",
        usage_metadata={"input_tokens": 40, "output_tokens": 7, "total_tokens": 47},
        response_metadata={"model_name": "scripted-1"},
    )
    app.state.chat_models.with_model("chat", scripted(reply))
    model = "ScriptedChatModel"
    labels = {"graph": "chat", "model": model}
    runs_before = sample("studypilot_ai_runs_total", **labels, outcome="ok")
    input_before = sample("studypilot_ai_tokens_total", **labels, direction="input")
    output_before = sample("studypilot_ai_tokens_total", **labels, direction="output")

    response = await client.post(
        "/ai/chat", headers=auth_headers(codec, user), json={"message": "hi"}
    )
    assert response.status_code == 200, response.text

    assert sample("studypilot_ai_runs_total", **labels, outcome="ok") - runs_before == 1
    assert sample("studypilot_ai_tokens_total", **labels, direction="input") - input_before == 40
    assert sample("studypilot_ai_tokens_total", **labels, direction="output") - output_before == 7
    assert sample("studypilot_ai_run_duration_seconds_count", **labels) >= 1


async def test_metrics_need_the_token_when_one_is_set(
    settings: Settings, db_session: AsyncSession
) -> None:
    configured = settings.model_copy(update={"metrics_token": SecretStr("scrape-me")})
    async with running_app(configured, db_session) as app, api_client(app) as client:
        assert_error(await client.get("http://test/metrics"), 401, "unauthorized")
        wrong = await client.get("http://test/metrics", headers={"Authorization": "Bearer no"})
        assert_error(wrong, 401, "unauthorized")
        right = await client.get(
            "http://test/metrics", headers={"Authorization": "Bearer scrape-me"}
        )
        assert right.status_code == 200
        assert "studypilot_http_requests_total" in right.text


async def test_metrics_without_a_token_answer_loopback_clients_only(
    settings: Settings, db_session: AsyncSession
) -> None:
    # A trusted proxy on loopback forwards an outside client: that client is refused.
    configured = settings.model_copy(update={"trusted_proxies": ["127.0.0.1"]})
    async with running_app(configured, db_session) as app, api_client(app) as client:
        outside = await client.get(
            "http://test/metrics", headers={"X-Forwarded-For": "203.0.113.5"}
        )
        assert_error(outside, 403, "forbidden")
        assert (await client.get("http://test/metrics")).status_code == 200


def test_metrics_are_not_in_the_published_api(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]


# Tracing. OpenTelemetry allows one global provider per process: our own spans (agent runs,
# model calls) go to this in-memory one; instrumentation takes each app's provider explicitly.
_GLOBAL_SPANS = InMemorySpanExporter()


@pytest.fixture(scope="module")
def global_spans() -> InMemorySpanExporter:
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_GLOBAL_SPANS))
        trace.set_tracer_provider(provider)
    return _GLOBAL_SPANS


@pytest.fixture
def spans(global_spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    global_spans.clear()
    yield global_spans
    global_spans.clear()


@asynccontextmanager
async def traced_app(
    settings: Settings, db_session: AsyncSession
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    app = create_app(settings, tracer_provider=provider)
    async with LifespanManager(app):
        app.state.sessionmaker = sessionmaker_for(db_session)
        async with api_client(app) as client:
            yield app, client


def _by_name(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    matches = [span for span in finished if span.name == name]
    assert matches, [span.name for span in finished]
    return matches[0]


async def test_a_request_traces_its_sql_and_its_agent_run(
    settings: Settings,
    db_session: AsyncSession,
    codec: TokenCodec,
    spans: InMemorySpanExporter,
) -> None:
    user = await create_user(db_session)
    async with traced_app(settings, db_session) as (app, client):
        health = await client.get("/health")
        assert health.status_code == 200
        app.state.chat_models.with_model("chat", scripted("Hello."))
        chat = await client.post(
            "/ai/chat", headers=auth_headers(codec, user), json={"message": "hi"}
        )
        assert chat.status_code == 200, chat.text
    finished = spans.get_finished_spans()

    server = _by_name(finished, "GET /api/v1/health")
    assert server.kind == trace.SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/health"
    # The health check's SELECT 1 runs on the app's own engine: a child span of the request.
    sql = [s for s in finished if s.kind == trace.SpanKind.CLIENT and s.name.startswith("SELECT")]
    assert any(
        s.parent is not None and s.context.trace_id == server.context.trace_id for s in sql
    ), [s.name for s in finished]

    chat_server = _by_name(finished, "POST /api/v1/ai/chat")
    run = _by_name(finished, "agent.run chat")
    assert run.context.trace_id == chat_server.context.trace_id
    assert run.attributes is not None
    assert run.attributes["studypilot.graph"] == "chat"
    model_call = _by_name(finished, "chat ScriptedChatModel")
    assert model_call.parent is not None
    assert model_call.parent.span_id == run.context.span_id


async def test_log_lines_carry_the_request_and_trace_ids(
    settings: Settings, db_session: AsyncSession, spans: InMemorySpanExporter
) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    async with traced_app(settings, db_session) as (_, client):
        handler = Keep()
        logging.getLogger("studypilot.access").addHandler(handler)
        try:
            response = await client.get("/health")
        finally:
            logging.getLogger("studypilot.access").removeHandler(handler)
    line: dict[str, Any] = records[-1].msg  # type: ignore[assignment]
    assert line["request_id"] == response.headers["X-Request-ID"]
    server = _by_name(spans.get_finished_spans(), "GET /api/v1/health")
    assert line["trace_id"] == format(server.context.trace_id, "032x")


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector stand-in: keeps what is posted to /v1/traces."""

    received: list[ExportTraceServiceRequest] = []  # noqa: RUF012 - one per test, reset there

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


async def test_traces_are_exported_over_otlp_when_an_endpoint_is_set(
    settings: Settings, db_session: AsyncSession, global_spans: InMemorySpanExporter
) -> None:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        configured = settings.model_copy(
            update={"otel_exporter_otlp_endpoint": endpoint, "otel_service_name": "sp-test"}
        )
        app = create_app(configured)
        async with LifespanManager(app):
            app.state.sessionmaker = sessionmaker_for(db_session)
            async with api_client(app) as client:
                assert (await client.get("/health")).status_code == 200
        # Leaving the lifespan flushed the batch to the collector.
    finally:
        server.shutdown()
        thread.join()
    exported = [
        (resource.resource, span)
        for request in _Collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = {span.name for _, span in exported}
    assert "GET /api/v1/health" in names
    assert any(name.startswith("SELECT") for name in names), names
    services = {
        attribute.value.string_value
        for resource, _ in exported
        for attribute in resource.attributes
        if attribute.key == "service.name"
    }
    assert services == {"sp-test"}
