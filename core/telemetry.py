"""OpenTelemetry tracing: on, over OTLP/HTTP, only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Spans: every request with its dependencies, endpoint and serialisation (FastAPI's own telemetry,
configured in `api/app.py`), every SQL statement (SQLAlchemy instrumentation on the app's
engine), every agent run and each model call in it (`agents/runs.py`). Off, the tracer is
OpenTelemetry's no-op and nothing is instrumented: tracing costs nothing.
"""

from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings

# Our own spans (agent runs, model calls) come from the global provider, set below when tracing
# is on; until then it is a proxy over the no-op one.
tracer = trace.get_tracer("studypilot")


def otlp_tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting to the configured collector, or None when tracing is off."""
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    # Imported only when tracing is on: a second of start-up (protobuf) that is otherwise wasted.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.otel_service_name}))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def use_globally(provider: TracerProvider) -> None:
    """Make `provider` the process's, for our own spans. Only the first call takes effect, as
    OpenTelemetry allows one global provider per process."""
    current = trace.get_tracer_provider()
    if current is not provider and not isinstance(current, TracerProvider):
        trace.set_tracer_provider(provider)


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> Any:
    """Spans for this engine's statements only (the instrumentor's own `instrument()` patches
    every engine of the process, once)."""
    connections = metrics.NoOpMeterProvider().get_meter("studypilot")
    return EngineTracer(  # type: ignore[no-untyped-call]  # the library is untyped
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=provider),
        engine.sync_engine,
        connections.create_up_down_counter("db.client.connections.usage"),
    )
