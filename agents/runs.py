"""Every agent run is recorded, and its tokens are charged to the user's daily budget.

`AgentRuns.track(...)` wraps one run: it times it, collects token usage through LangChain's
usage callback, gathers tool calls, and on the way out writes one `agent_runs` row in a unit of
work of its own (a failed run is recorded too, with its error code) and spends the tokens.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import structlog
from langchain_core.callbacks import BaseCallbackHandler, UsageMetadataCallbackHandler
from langchain_core.outputs import LLMResult
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.db import unit_of_work
from core.errors import AppError
from core.metrics import AI_DURATION, AI_RUNS, AI_TOKENS
from core.rate_limit import RateLimiter
from core.telemetry import tracer
from domain.agent_runs.models import AgentRun

log = structlog.get_logger(__name__)

RATE_SCOPE = "ai"
BUDGET_SCOPE = "ai-tokens"


class _UsageCounter(UsageMetadataCallbackHandler):
    # It only adds numbers under a lock: run it inline instead of through the thread pool
    # LangChain uses for synchronous handlers (a hop per streamed chunk, ~4 ms per model step).
    run_inline = True


class _ModelCallSpans(BaseCallbackHandler):
    """A client span per model call, under the run's span (OpenTelemetry's gen_ai conventions).
    The openai client speaks httpx2, which HTTP instrumentations do not see; this does."""

    run_inline = True

    def __init__(self, parent: Span, model: str) -> None:
        self._parent = trace.set_span_in_context(parent)
        self._model = model
        self._spans: dict[uuid.UUID, Span] = {}

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: Any, *, run_id: uuid.UUID, **kwargs: Any
    ) -> None:
        metadata = kwargs.get("metadata") or {}
        model = str(metadata.get("ls_model_name") or self._model)
        self._spans[run_id] = tracer.start_span(
            f"chat {model}",
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": model},
        )

    def on_llm_end(self, response: LLMResult, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        span = self._spans.pop(run_id, None)
        if span is None:
            return
        usage = (response.llm_output or {}).get("token_usage") or {}
        for key, attribute in (
            ("prompt_tokens", "gen_ai.usage.input_tokens"),
            ("completion_tokens", "gen_ai.usage.output_tokens"),
        ):
            if isinstance(usage.get(key), int):
                span.set_attribute(attribute, usage[key])
        span.end()

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()


@dataclass
class TrackedRun:
    graph: str
    model: str
    prompt_version: str
    conversation_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    usage: UsageMetadataCallbackHandler = field(default_factory=_UsageCounter)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    span: Span = field(default_factory=trace.get_current_span)

    @property
    def tokens(self) -> tuple[int, int]:
        totals = self.usage.usage_metadata.values()
        return (
            sum(usage["input_tokens"] for usage in totals),
            sum(usage["output_tokens"] for usage in totals),
        )

    @property
    def callbacks(self) -> list[Any]:
        if not self.span.is_recording():
            return [self.usage]
        return [self.usage, _ModelCallSpans(self.span, self.model)]


# Takes a job to run later; False when it cannot, and the job must run now.
Defer = Callable[[Callable[[], Awaitable[None]]], bool]


class AgentRuns:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
        defer_failures: Defer | None = None,
    ) -> None:
        """`defer_failures` postpones recording a failed run until the caller's own unit of
        work has rolled back, so the record is not undone with the failed work."""
        self._sessionmaker = sessionmaker
        self._limiter = limiter
        self._defer_failures = defer_failures
        self._per_minute: RateLimitItem = RateLimitItemPerMinute(settings.ai_requests_per_minute)
        self._tokens_per_day: RateLimitItem = RateLimitItemPerDay(settings.ai_tokens_per_day)

    async def admit(self, user_id: uuid.UUID) -> None:
        """One AI request for this user: 429 past the per-minute limit or the day's tokens."""
        await self._limiter.check(self._per_minute, RATE_SCOPE, str(user_id))
        await self._limiter.ensure_budget_left(self._tokens_per_day, BUDGET_SCOPE, str(user_id))

    @asynccontextmanager
    async def track(
        self,
        user_id: uuid.UUID,
        graph: str,
        model: str,
        prompt_version: str,
        conversation_id: uuid.UUID | None = None,
    ) -> AsyncIterator[TrackedRun]:
        # Started, not made current: a streamed run may end in another task than it began.
        span = tracer.start_span(
            f"agent.run {graph}",
            attributes={
                "studypilot.graph": graph,
                "gen_ai.request.model": model,
                "studypilot.prompt_version": prompt_version,
            },
        )
        run = TrackedRun(graph, model, prompt_version, conversation_id, span=span)
        started = time.perf_counter()
        error_code: str | None = None
        try:
            yield run
        except AppError as exc:
            error_code = exc.code
            raise
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away mid-run (a closed stream); the tokens were still spent.
            error_code = "cancelled"
            raise
        except BaseException:
            error_code = "internal_error"
            raise
        finally:
            elapsed = time.perf_counter() - started
            latency_ms = round(elapsed * 1000)
            _observe(run, elapsed, error_code)
            record = partial(self._record, user_id, run, latency_ms, error_code)
            deferred = (
                error_code is not None
                and self._defer_failures is not None
                and self._defer_failures(record)
            )
            if not deferred:
                # Shielded: a run cut short by a closed stream is still recorded and charged.
                with anyio.CancelScope(shield=True):
                    await record()

    async def _record(
        self, user_id: uuid.UUID, run: TrackedRun, latency_ms: int, error_code: str | None
    ) -> None:
        input_tokens, output_tokens = run.tokens
        try:
            async with unit_of_work(self._sessionmaker) as session:
                session.add(
                    AgentRun(
                        id=run.id,
                        user_id=user_id,
                        graph=run.graph,
                        model=run.model,
                        prompt_version=run.prompt_version,
                        input_tokens=input_tokens,
                        output_tokens=output_tokens,
                        latency_ms=latency_ms,
                        tool_calls=run.tool_calls,
                        outcome="ok" if error_code is None else "error",
                        error_code=error_code,
                        conversation_id=run.conversation_id,
                    )
                )
            await self._limiter.spend(
                self._tokens_per_day,
                BUDGET_SCOPE,
                str(user_id),
                amount=input_tokens + output_tokens,
            )
        except Exception:
            # Recording must never turn an answer into an error, nor hide the run's own error.
            log.exception("agent_run_not_recorded", graph=run.graph, run_id=str(run.id))


def _observe(run: TrackedRun, elapsed: float, error_code: str | None) -> None:
    input_tokens, output_tokens = run.tokens
    AI_RUNS.labels(run.graph, run.model, error_code or "ok").inc()
    AI_TOKENS.labels(run.graph, run.model, "input").inc(input_tokens)
    AI_TOKENS.labels(run.graph, run.model, "output").inc(output_tokens)
    AI_DURATION.labels(run.graph, run.model).observe(elapsed)
    run.span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    run.span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if error_code is not None:
        run.span.set_status(Status(StatusCode.ERROR, error_code))
    run.span.end()
