"""Chat orchestration overhead: the chat agent against a stub model that answers in a fixed 50 ms,
next to a raw `openai.AsyncOpenAI` client calling the same stub in the same run.

    .venv/bin/python -m bench.chat_overhead

Every turn is two model steps: the stub (`bench/chat_stub.py`, a process of its own) first asks
for the `list_goals` tool, then answers once the tool's result is in the request. The user has no
goals, so the tool costs one small SELECT. Phases, one after the other, each after a warm-up:

- raw: `openai.AsyncOpenAI` streams the same two requests (same system prompt, tools and
  messages as the chat graph sends) and reads them to the end; no graph, no database: the
  baseline. Also without streaming, for reference.
- ChatOpenAI alone, graph without checkpointer, graph without the usage callback: reference
  phases that split the overhead by layer.
- graph: `graph.astream` of the compiled chat graph as `ChatTurn` runs it (stream modes, usage
  callback, run-time context with a database session for the tool), with the Postgres
  checkpointer; a new thread per turn.
- http: `POST /api/v1/ai/chat` through `create_app` (lifespan, middleware, auth with a real
  bearer token, rate limit, conversation claim, graph, agent_runs row, commit) over
  `httpx.ASGITransport`; a new conversation per turn. The SSE variant is driven as raw ASGI,
  since ASGITransport buffers a response until it ends, to time the first `token` event.
- concurrency: conversations of 6 turns over the http path, one at a time, then 16 at once
  (16 users); turns per second against 16x the one-at-a-time rate. The raw client too.

Then a sampling profile (`bench/cpu_sampler.py`) of more http turns, and, unless
--skip-stub-comparison, the raw and http phases again with the stub in a thread of this process
(sharing its GIL). The database is a fresh embedded Postgres (`bench/postgres.py`) with
durability back on (fsync, synchronous_commit, full_page_writes) as in production;
--no-durability keeps that cluster's fsync-off settings. Writes its own section of
bench/RESULTS.md, replacing an earlier one. About 3 minutes on 2 cores.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import uvloop
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.utils.function_calling import convert_to_openai_tool
from openai import AsyncOpenAI
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from sqlalchemy import select
from starlette.types import Message

from agents.chat.context import ChatContext
from agents.chat.graph import CHAT_TOOLS, RECURSION_LIMIT, ChatGraph, build_chat_graph
from agents.chat.turn import DURABILITY, STREAM_MODES
from agents.runs import TrackedRun
from api.app import create_app
from bench import chat_report
from bench.chat_results import (
    COMPARISON_ROUNDS,
    CONCURRENCY,
    CONVERSATION_TURNS,
    PROFILE_TURNS,
    REFERENCE_EVERY,
    ROUNDS,
    SINGLE_CONVERSATIONS,
    STATEMENT_TURNS,
    WARMUP_ROUNDS,
    Concurrency,
    Phase,
    Profile,
    Results,
    Sample,
    percentile,
)
from bench.chat_stub import ANSWER, TOOL_NAME, StubInThread, StubProcess
from bench.cpu_sampler import CpuSampler, summarize
from bench.data import NO_LOGIN_HASH
from bench.http_load import (
    CLOCK_TICKS,
    _children_of,
    _machine_busy_ticks,
    _process_cpu_ticks,
)
from bench.postgres import bench_postgres, create_database, plain_url
from bench.run import log, machine, machine_busy_share
from core.config import Settings
from core.db import unit_of_work
from core.security import TokenCodec
from domain.embeddings.runtime import EmbeddingRuntime
from domain.users.models import User
from prompts import load_prompt

COMMAND = ".venv/bin/python -m bench.chat_overhead"
RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
DATABASE = "bench_chat"
MODEL = "bench-stub-model"
MESSAGE = "How am I doing with my goals this week?"

# Before starting, wait (up to the patience) for the machine to be at most this busy.
QUIET_SHARE = 0.25
QUIET_PATIENCE_SECONDS = 60.0
# Production durability, which the read-only benchmarks' cluster turns off (bench/postgres.py).
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class Meter:
    """CPU seconds so far of this process, of Postgres (postmaster and backends) and of the
    stub, and the machine's busy CPU seconds (anything's)."""

    def __init__(self, postmaster_pid: int, stub_pid: int) -> None:
        self._postmaster = postmaster_pid
        self._stub = stub_pid if stub_pid != os.getpid() else None
        self._backends: list[int] = []
        self.refresh()

    def refresh(self) -> None:
        """Find Postgres's backends again (scanning /proc is too slow to do every turn)."""
        self._backends = _children_of(self._postmaster)

    def sample(self) -> tuple[float, float, float, float]:
        # Backends that exit meanwhile move into the postmaster's reaped-children time.
        postgres = _process_cpu_ticks(self._postmaster, reaped_children=True) + sum(
            _process_cpu_ticks(pid) for pid in self._backends
        )
        stub = _process_cpu_ticks(self._stub) if self._stub is not None else 0
        return (
            time.process_time(),
            postgres / CLOCK_TICKS,
            stub / CLOCK_TICKS,
            _machine_busy_ticks() / CLOCK_TICKS,
        )


@dataclass
class Accumulator:
    name: str
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])

    def add(
        self,
        sample: Sample,
        wall: float,
        before: tuple[float, float, float, float],
        after: tuple[float, float, float, float],
    ) -> None:
        self.samples.append(sample)
        self.wall_s += wall
        for i in range(4):
            self.cpu_s[i] += after[i] - before[i]

    def phase(self) -> Phase:
        ours, postgres, stub, busy = self.cpu_s
        count = max(1, len(self.samples))
        return Phase(
            name=self.name,
            totals_ms=[s.total_s * 1000 for s in self.samples],
            first_token_ms=[
                s.first_token_s * 1000 for s in self.samples if s.first_token_s is not None
            ],
            wall_s=self.wall_s,
            cpu_ms={
                "ours": ours / count * 1000,
                "postgres": postgres / count * 1000,
                "stub": stub / count * 1000,
            },
            other_share=max(0.0, busy - ours - postgres - stub)
            / (self.wall_s * (os.cpu_count() or 1)),
        )


@dataclass(frozen=True)
class Variant:
    """One way of running a turn, measured against the others."""

    name: str
    turn: Callable[[], Awaitable[Sample]]
    every: int = 1  # takes part in every n-th round


async def run_rounds(
    variants: list[Variant], rounds: int, meter: Meter, warmup_rounds: int = WARMUP_ROUNDS
) -> dict[str, Phase]:
    """Sequential turns, one per variant per round, in a shuffled order each round."""
    rng = random.Random(7)
    for _ in range(warmup_rounds):
        for variant in variants:
            await variant.turn()
    accumulators = {variant.name: Accumulator(variant.name) for variant in variants}
    for round_number in range(rounds):
        meter.refresh()
        order = [variant for variant in variants if round_number % variant.every == 0]
        rng.shuffle(order)
        for variant in order:
            before = meter.sample()
            started = time.perf_counter()
            sample = await variant.turn()
            wall = time.perf_counter() - started
            accumulators[variant.name].add(sample, wall, before, meter.sample())
    return {variant.name: accumulators[variant.name].phase() for variant in variants}


async def run_at_once(
    name: str, conversations: list[Awaitable[list[float]]], meter: Meter
) -> Phase:
    """Conversations (each returning its turns' seconds) run concurrently, measured as one."""
    meter.refresh()
    before = meter.sample()
    started = time.perf_counter()
    latencies = await asyncio.gather(*conversations)
    accumulator = Accumulator(name)
    accumulator.wall_s = time.perf_counter() - started
    accumulator.cpu_s = [b - a for a, b in zip(before, meter.sample(), strict=True)]
    accumulator.samples = [Sample(s) for turns in latencies for s in turns]
    return accumulator.phase()


# --- the raw client: the same two requests, no graph, no database -------------------------


@dataclass(frozen=True)
class RawClient:
    client: AsyncOpenAI
    system_prompt: str
    tools: list[ChatCompletionToolParam]

    def _first_messages(self) -> list[ChatCompletionMessageParam]:
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": MESSAGE},
        ]

    async def streamed_turn(self) -> Sample:
        """Both steps streamed and read to the end, as ChatOpenAI does under `astream`."""
        started = time.perf_counter()
        messages = self._first_messages()
        stream = await self.client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=self.tools,
            stream=True,
            stream_options={"include_usage": True},
        )
        call_id, name, arguments = "", "", []
        async for chunk in stream:
            for choice in chunk.choices:
                for delta in choice.delta.tool_calls or []:
                    call_id = delta.id or call_id
                    if delta.function is not None:
                        name = delta.function.name or name
                        arguments.append(delta.function.arguments or "")
        if name != TOOL_NAME:
            raise RuntimeError(f"raw client: expected a {TOOL_NAME} call, got {name!r}")
        messages += _tool_round(call_id, name, "".join(arguments))
        stream = await self.client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=self.tools,
            stream=True,
            stream_options={"include_usage": True},
        )
        first: float | None = None
        parts = []
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    first = first or time.perf_counter()
                    parts.append(choice.delta.content)
        if "".join(parts) != ANSWER:
            raise RuntimeError("raw client: unexpected answer")
        assert first is not None
        return Sample(time.perf_counter() - started, first - started)


def _tool_round(call_id: str, name: str, arguments: str) -> list[ChatCompletionMessageParam]:
    call: ChatCompletionMessageFunctionToolCallParam = {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    # The tool's result for a user without goals, as list_goals returns it.
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": "[]"},
    ]


def system_prompt(user: User) -> str:
    """The chat system prompt as ChatTurn renders it for this user (no voice, no attachments)."""
    today = datetime.now(UTC)
    return load_prompt("chat/system").render(
        user_name=user.name or "the student",
        today=today.strftime("%A %Y-%m-%d %H:%M"),
        timezone=user.timezone,
        style="",
        attachments="",
    )


# --- ChatOpenAI alone: LangChain's model wrapper, no graph --------------------------------


@dataclass(frozen=True)
class ModelRunner:
    model: BaseChatModel
    system_prompt: str

    async def turn(self) -> Sample:
        """The two steps through `bind_tools(...).astream`, as the graph's model node streams."""
        started = time.perf_counter()
        bound = self.model.bind_tools(CHAT_TOOLS)
        messages: list[BaseMessage] = [SystemMessage(self.system_prompt), HumanMessage(MESSAGE)]
        call: AIMessageChunk | None = None
        async for chunk in bound.astream(messages):
            assert isinstance(chunk, AIMessageChunk)
            call = chunk if call is None else call + chunk
        if call is None or [c["name"] for c in call.tool_calls] != [TOOL_NAME]:
            raise RuntimeError("ChatOpenAI: expected a tool call")
        call_id = call.tool_calls[0]["id"] or ""
        messages += [call, ToolMessage("[]", tool_call_id=call_id)]
        first: float | None = None
        parts = []
        async for chunk in bound.astream(messages):
            if chunk.text:
                first = first or time.perf_counter()
                parts.append(chunk.text)
        if "".join(parts) != ANSWER or first is None:
            raise RuntimeError("ChatOpenAI: unexpected answer")
        return Sample(time.perf_counter() - started, first - started)


# --- the graph alone, as ChatTurn runs it --------------------------------------------------


@dataclass(frozen=True)
class GraphRunner:
    app: FastAPI
    user: User
    graph: ChatGraph
    # ChatTurn passes agent_runs' token counter (a synchronous LangChain callback handler).
    usage_callback: bool = True

    async def turn(self) -> Sample:
        state = self.app.state
        graph = self.graph
        settings: Settings = state.settings
        started = time.perf_counter()
        first: float | None = None
        answer = ""
        async with state.sessionmaker() as session:
            context = ChatContext(
                user=self.user,
                session=session,
                embedding=EmbeddingRuntime(state.embedder, state.embedding_model_id),
                request_text=MESSAGE,
                model=state.chat_models.for_task("chat"),
                system_prompt=system_prompt(self.user),
                history_token_budget=settings.chat_history_token_budget,
            )
            config: RunnableConfig = {
                "configurable": {"thread_id": str(uuid.uuid4())},
                # The same usage counter a real turn records with (agents/runs.py).
                "callbacks": TrackedRun("chat", "bench", "bench").callbacks
                if self.usage_callback
                else [],
                "recursion_limit": RECURSION_LIMIT,
            }
            async for mode, chunk in graph.astream(
                {"messages": [HumanMessage(MESSAGE)]},
                config,
                context=context,
                stream_mode=STREAM_MODES,
                durability=DURABILITY,
            ):
                if mode == "messages":
                    message, metadata = cast(tuple[Any, dict[str, Any]], chunk)
                    if (
                        isinstance(message, AIMessageChunk)
                        and metadata.get("langgraph_node") == "agent"
                        and message.text
                    ):
                        first = first or time.perf_counter()
                elif "agent" in (update := cast(dict[str, Any], chunk)):
                    reply = update["agent"]["messages"][-1]
                    if isinstance(reply, AIMessage) and not reply.tool_calls:
                        answer = reply.text
            await session.rollback()
        if answer != ANSWER or first is None:
            raise RuntimeError("graph: unexpected answer")
        return Sample(time.perf_counter() - started, first - started)


# --- the whole HTTP path -------------------------------------------------------------------


def bench_settings(database_url: str, base_url: str, secret: str) -> Settings:
    return Settings(
        env="production",
        database_url=database_url,
        redis_url=None,
        jwt_secret=secret,
        log_level="WARNING",
        embedding_warm_up=False,  # the turn never embeds; the model would only take CPU
        openai_base_url=base_url,
        openai_api_key="bench-key",
        llm_model=MODEL,
        # The limits are checked as in production; they just never refuse a benchmark turn.
        ai_requests_per_minute=1_000_000,
        ai_tokens_per_day=1_000_000_000,
    )


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with LifespanManager(app):
        yield app


@dataclass
class HttpRunner:
    app: FastAPI
    token: str
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1")

    async def post(self, conversation_id: str | None = None) -> dict[str, Any]:
        body = {"message": MESSAGE, "conversation_id": conversation_id}
        response = await self.client.post(
            "/ai/chat", json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST /ai/chat answered {response.status_code}: {response.text}")
        reply: dict[str, Any] = response.json()
        calls = reply["tool_calls"]
        if reply["message"] != ANSWER or [(c["name"], c["ok"]) for c in calls] != [
            (TOOL_NAME, True)
        ]:
            raise RuntimeError(f"POST /ai/chat: unexpected reply {reply}")
        return reply

    async def json_turn(self) -> Sample:
        started = time.perf_counter()
        await self.post()
        return Sample(time.perf_counter() - started)

    async def sse_turn(self) -> Sample:
        """The SSE answer through the app's ASGI interface: time of the first `token` event."""
        payload = json.dumps({"message": MESSAGE}).encode()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/ai/chat",
            "raw_path": b"/api/v1/ai/chat",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"accept", b"text/event-stream"),
                (b"authorization", f"Bearer {self.token}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
        }
        finished = asyncio.Event()
        request_sent = False
        status = 0
        first: float | None = None
        body = bytearray()

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, first
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if first is None and b"event: token" in chunk:
                    first = time.perf_counter()
                body.extend(chunk)
                if not message.get("more_body", False):
                    finished.set()

        started = time.perf_counter()
        await self.app(scope, receive, send)
        total = time.perf_counter() - started
        finished.set()
        if status != 200 or first is None or b"event: reply" not in body:
            raise RuntimeError(f"SSE answered {status}: {bytes(body[-500:])!r}")
        return Sample(total, first - started)


Conversation = Callable[[int], Awaitable[list[float]]]  # turns -> each turn's seconds


def http_conversation(runner: HttpRunner) -> Conversation:
    """Turns of one conversation (the first starts it, the others continue it)."""

    async def run(turns: int) -> list[float]:
        conversation_id: str | None = None
        latencies = []
        for _ in range(turns):
            started = time.perf_counter()
            reply = await runner.post(conversation_id)
            latencies.append(time.perf_counter() - started)
            conversation_id = reply["conversation_id"]
        return latencies

    return run


def raw_conversation(raw: RawClient) -> Conversation:
    async def run(turns: int) -> list[float]:
        return [(await raw.streamed_turn()).total_s for _ in range(turns)]

    return run


async def run_concurrency(conversations: list[Conversation], meter: Meter) -> Concurrency:
    """SINGLE_CONVERSATIONS one after the other, then CONCURRENCY at once (one each)."""
    # Warm-up at full concurrency: connection pools grow to what 16 turns hold at once.
    await asyncio.gather(*(run(2) for run in conversations[:CONCURRENCY]))

    async def one_at_a_time() -> list[float]:
        latencies: list[float] = []
        for run in conversations[:SINGLE_CONVERSATIONS]:
            latencies += await run(CONVERSATION_TURNS)
        return latencies

    single = await run_at_once("1 conversation at a time", [one_at_a_time()], meter)
    concurrent = await run_at_once(
        f"{CONCURRENCY} conversations at once",
        [run(CONVERSATION_TURNS) for run in conversations[:CONCURRENCY]],
        meter,
    )
    return Concurrency(single, concurrent)


# --- profile -------------------------------------------------------------------------------

# Functions whose CPU per turn, sub-calls included, is worth showing: (file suffix, function).
INCLUSIVE_OF_INTEREST = (
    ("langchain_openai/chat_models/base.py", "_astream"),
    ("openai/_utils/_transform.py", "async_transform"),
    ("openai/_streaming.py", "__stream__"),
    ("langchain_core/callbacks/manager.py", "ahandle_event"),
    ("langchain_core/utils/function_calling.py", "convert_to_openai_tool"),
    ("langgraph/pregel/_loop.py", "tick"),
    ("langgraph/pregel/_loop.py", "after_tick"),
    ("langgraph/checkpoint/postgres/aio.py", "aput"),
    ("langgraph/checkpoint/postgres/aio.py", "aput_writes"),
    ("langgraph/checkpoint/postgres/aio.py", "aget_tuple"),
    ("langgraph/prebuilt/tool_node.py", "_afunc"),
    ("agents/chat/turn.py", "begin"),
    ("agents/chat/turn.py", "_finish"),
    ("agents/runs.py", "_record"),
    ("api/ai.py", "admit"),
    ("api/deps.py", "current_user"),
)


async def profile_http(runner: HttpRunner) -> Profile:
    cpu_before = time.process_time()
    with CpuSampler() as sampler:
        for _ in range(PROFILE_TURNS):
            await runner.json_turn()
    cpu_ms = (time.process_time() - cpu_before) / PROFILE_TURNS * 1000
    summary = summarize(sampler.stacks, INCLUSIVE_OF_INTEREST)
    return Profile(
        turns=PROFILE_TURNS,
        samples=summary.samples,
        cpu_ms_per_turn=cpu_ms,
        by_package=[(name, share * cpu_ms) for name, share in summary.by_package[:14]],
        top_functions=[(name, share * cpu_ms) for name, share in summary.by_function[:18]],
        cumulative=[(name, share * cpu_ms) for name, share in summary.inclusive],
    )


# --- setup ---------------------------------------------------------------------------------


async def create_users(app: FastAPI, count: int) -> list[User]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with unit_of_work(app.state.sessionmaker) as session:
        session.add_all(
            User(
                id=user_id,
                email=f"chat-{user_id.hex[:16]}@bench.example.com",
                password_hash=NO_LOGIN_HASH,
                name=f"Bench Student {n}",
                timezone="UTC",
            )
            for n, user_id in enumerate(ids)
        )
    async with app.state.sessionmaker() as session:
        users = list(await session.scalars(select(User).where(User.id.in_(ids))))
    order = {user_id: n for n, user_id in enumerate(ids)}
    return sorted(users, key=lambda user: order[user.id])


async def statements_reset(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await connection.execute("SELECT pg_stat_statements_reset()")
    finally:
        await connection.close()


async def statements_per_turn(dsn: str, turns: int) -> list[tuple[float, str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT calls, query FROM pg_stat_statements "
            "WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC"
        )
    finally:
        await connection.close()
    return [(r["calls"] / turns, " ".join(r["query"].split())) for r in rows]


async def make_durable(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for name, value in DURABLE_SETTINGS.items():
            await connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        await connection.execute("SELECT pg_reload_conf()")
        await connection.execute("CHECKPOINT")
        for name, value in DURABLE_SETTINGS.items():
            current = await connection.fetchval(f"SHOW {name}")
            if current != value:
                raise RuntimeError(f"{name} is {current}, not {value}")
    finally:
        await connection.close()


async def server_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        version: str = await connection.fetchval("SHOW server_version")
        return version.split()[0]
    finally:
        await connection.close()


# --- the run -------------------------------------------------------------------------------


async def measure_stack(
    database_url: str,
    dsn: str,
    stub_url: str,
    meter: Meter,
    results: Results,
    *,
    in_thread: bool,
) -> None:
    """Every phase against one stub: the full set, or (in_thread) the comparison subset."""
    secret = secrets.token_urlsafe(48)
    settings = bench_settings(database_url, stub_url, secret)
    codec = TokenCodec(settings)
    async with running_app(settings) as app:
        users = await create_users(app, CONCURRENCY)
        runners = [HttpRunner(app, codec.issue(user.id, "access")[0]) for user in users]
        tools = [cast(ChatCompletionToolParam, convert_to_openai_tool(tool)) for tool in CHAT_TOOLS]
        raw = RawClient(
            AsyncOpenAI(base_url=stub_url, api_key="bench-key"), system_prompt(users[0]), tools
        )
        http = runners[0]
        try:
            if in_thread:
                pair = [Variant("raw", raw.streamed_turn), Variant("http", http.json_turn)]
                log(f"  stub in this process: {COMPARISON_ROUNDS} rounds of raw and http...")
                results.in_thread = await run_rounds(pair, COMPARISON_ROUNDS, meter, 2)
                return
            model = ModelRunner(app.state.chat_models.for_task("chat"), system_prompt(users[0]))
            graph = GraphRunner(app, users[0], app.state.chat_agent)
            # Attribution only: the graph without its checkpointer, or without the callback.
            stateless = GraphRunner(app, users[0], build_chat_graph(None))
            uncounted = GraphRunner(app, users[0], app.state.chat_agent, usage_callback=False)
            variants = [
                Variant("raw", raw.streamed_turn),
                Variant("ChatOpenAI alone", model.turn, REFERENCE_EVERY),
                Variant("graph, no checkpointer", stateless.turn, REFERENCE_EVERY),
                Variant("graph, no usage callback", uncounted.turn, REFERENCE_EVERY),
                Variant("graph", graph.turn),
                Variant("http", http.json_turn),
                Variant("http, SSE", http.sse_turn),
            ]
            log(f"  {ROUNDS} rounds of {', '.join(v.name for v in variants)}...")
            results.phases = await run_rounds(variants, ROUNDS, meter)
            for name, phase in results.phases.items():
                log(
                    f"  {name}: p50 {percentile(phase.totals_ms, 0.5):.1f} ms, "
                    f"p95 {percentile(phase.totals_ms, 0.95):.1f} ms, "
                    f"CPU {phase.cpu_ms['ours']:.1f} ms/turn, other load {phase.other_share:.0%}"
                )
            await statements_reset(dsn)
            for _ in range(STATEMENT_TURNS):
                await http.json_turn()
            results.statements = await statements_per_turn(dsn, STATEMENT_TURNS)
            for name, conversations in (
                ("raw", [raw_conversation(raw)] * CONCURRENCY),
                ("http", [http_conversation(runner) for runner in runners]),
            ):
                log(f"  concurrency, {name}...")
                results.concurrency[name] = await run_concurrency(conversations, meter)
                log(f"  concurrency, {name}: {results.concurrency[name].ratio:.2f} x linear")
            log("  profile...")
            results.profile = await profile_http(http)
        finally:
            await raw.client.close()
            for runner in runners:
                await runner.client.aclose()


def wait_until_quiet() -> tuple[float, float]:
    """On a shared machine, give others' work a moment to finish first: the machine's busy
    share just before the start, and the seconds waited for it to drop."""
    started = time.monotonic()
    busy = machine_busy_share()
    waited = 0.0
    while busy > QUIET_SHARE and waited < QUIET_PATIENCE_SECONDS:
        log(f"machine {busy:.0%} busy with other work; waiting...")
        busy = machine_busy_share()
        waited = time.monotonic() - started
    return busy, waited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--no-durability",
        action="store_true",
        help="keep the bench cluster's fsync/synchronous_commit off",
    )
    parser.add_argument(
        "--skip-stub-comparison",
        action="store_true",
        help="do not repeat raw and http with the stub in a thread of this process",
    )
    args = parser.parse_args()
    started = time.monotonic()
    info = machine() | {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    busy_before, waited = wait_until_quiet()
    info["busy_before"] = f"{busy_before:.0%}"
    if waited:
        info["busy_before"] += f" (after waiting {waited:.0f} s for other work to finish)"
    log(f"machine: {info['cpu']}; CPU busy before start: {info['busy_before']}")
    results = Results(info)
    with bench_postgres() as server:
        assert server.process is not None
        database_url = asyncio.run(create_database(server, DATABASE))
        dsn = plain_url(server, DATABASE)
        info["postgres"] = asyncio.run(server_version(dsn))
        if not args.no_durability:
            asyncio.run(make_durable(dsn))
        info["durability"] = (
            "off (bench cluster settings)"
            if args.no_durability
            else "on (fsync, synchronous_commit, full_page_writes)"
        )
        with StubProcess() as stub:
            log(f"stub in its own process (pid {stub.pid}); phases:")
            meter = Meter(server.process.pid, stub.pid)
            uvloop.run(
                measure_stack(database_url, dsn, stub.base_url, meter, results, in_thread=False)
            )
        if not args.skip_stub_comparison:
            with StubInThread() as stub_in_thread:
                meter = Meter(server.process.pid, stub_in_thread.pid)
                uvloop.run(
                    measure_stack(
                        database_url, dsn, stub_in_thread.base_url, meter, results, in_thread=True
                    )
                )
    info["runtime"] = f"{(time.monotonic() - started) / 60:.1f} min"
    section = chat_report.render(COMMAND, results)
    chat_report.write_section(args.output, section)
    log(section)
    log(f"wrote its section of {args.output} in {info['runtime']}")


if __name__ == "__main__":
    main()
