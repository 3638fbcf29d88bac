"""A real OpenAI-compatible chat-completions server whose answers are scripted.

No model provider is reachable from tests, cassette recording or benchmarks, yet the code under
test talks to one through real clients (`openai.AsyncOpenAI`, `langchain_openai.ChatOpenAI`).
Mocking those clients would only test our guesses about them. Instead this module serves the
OpenAI wire format over real HTTP on 127.0.0.1, so the clients' own request building, response
parsing, streaming, retries and timeouts all run unchanged; only what the "model" says is scripted:

    with ScriptedOpenAI([ToolCalls([ToolCall("find_notes", {"topic": "algebra"})]),
                         Answer("Start with chapter 3.")]) as server:
        model = ChatOpenAI(model="gpt-test", base_url=server.base_url, api_key="test",
                           stream_usage=True)
        ...
        assert server.requests[0]["tools"]

Replies come from a queue (each request takes the next; an unexpected request gets a 500) or from
a `responder` callable for endless scripted behaviour.

Like a real provider, the server refuses with a 400 (and consumes no scripted reply) a
conversation OpenAI would refuse: a `tool` message that answers no tool call of the assistant
message right before it, and an assistant message whose tool calls are not all answered before
the next message. Given `context_window` (tokens), it also refuses a prompt longer than that
(`context_length_exceeded`), counting about four characters per token.

`async with` works the same way and keeps the caller's event loop free while the server starts
and stops in its own thread.
"""

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from evals import openai_wire as wire
from evals.openai_wire import Answer, Json, ToolCall, ToolCalls

__all__ = [
    "Answer",
    "Break",
    "Fault",
    "Hang",
    "Json",
    "Reply",
    "ScriptedOpenAI",
    "Stall",
    "ToolCall",
    "ToolCalls",
]


_START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Fault:
    """An HTTP error. `body` defaults to an OpenAI-style error object for `status`."""

    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Stall:
    """Hold the request for `seconds` (to trip client timeouts), then answer 500."""

    seconds: float


@dataclass(frozen=True)
class Hang:
    """Never answer: hold the request until the server stops. Only a client timeout ends it."""


@dataclass(frozen=True)
class Break:
    """Start streaming `content` as an answer, then cut the connection after `after_chunks`
    chunks (no final chunk, no usage, no `[DONE]`): a provider or proxy dying mid-stream. A
    request that did not ask to stream loses its connection before any byte."""

    content: str
    after_chunks: int


class _StreamCut(Exception):
    """Raised inside a response body so uvicorn drops the connection mid-message."""


Reply = Answer | ToolCalls | Fault | Stall | Hang | Break
Responder = Callable[[Json], Reply]


def _error_body(message: str, kind: str, code: str | None, param: str | None = None) -> Json:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# Marked not retryable so the client surfaces an unexpected request at once instead of retrying.
_SCRIPT_EXHAUSTED = Fault(
    500,
    _error_body(
        "ScriptedOpenAI: the script is exhausted; this request was not expected.",
        "server_error",
        "script_exhausted",
    ),
    {"x-should-retry": "false"},
)


class ScriptedOpenAI:
    """Serves `POST /v1/chat/completions` from a background thread while used as a context."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        responder: Responder | None = None,
        delay_seconds: float = 0.0,
        hold: threading.Event | None = None,
        context_window: int | None = None,
    ) -> None:
        """`hold`, when given, keeps every answer waiting until it is set: a model exactly as
        slow as a test needs, with no clock involved."""
        self._replies = deque(replies)
        if responder is not None and self._replies:
            raise ValueError("pass scripted replies or a responder, not both")
        self._responder = responder or self._next_scripted_reply
        self.delay_seconds = delay_seconds
        self._hold = hold
        self.context_window = context_window
        self._lock = threading.Lock()
        self._requests: list[Json] = []
        self._usages: list[Json] = []
        self._base_url: str | None = None
        app = Starlette(
            routes=[Route("/v1/chat/completions", self._chat_completions, methods=["POST"])]
        )
        # log_config=None leaves the process's logging alone; the level and access_log settings
        # only touch uvicorn's own loggers, which nothing else in a test process uses.
        config = uvicorn.Config(
            app, port=0, lifespan="off", log_config=None, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        # A daemon thread: a server someone forgot to stop cannot keep the interpreter alive.
        self._thread = threading.Thread(
            target=self._server.run, name="scripted-openai", daemon=True
        )
        # Set when the server stops, so shutdown never waits out a long `Stall`.
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, the `base_url` for openai clients and ChatOpenAI."""
        if self._base_url is None:
            raise RuntimeError("ScriptedOpenAI is not running: use it as a context manager")
        return self._base_url

    @property
    def requests(self) -> list[Json]:
        """The JSON bodies received so far, oldest first (a copy, safe to read while serving)."""
        with self._lock:
            return list(self._requests)

    @property
    def usages(self) -> list[Json]:
        """The `usage` of every complete answer sent so far (a cut stream reports none)."""
        with self._lock:
            return list(self._usages)

    @property
    def last_request(self) -> Json:
        """The most recent JSON body, e.g. to check the tool results a client sent back."""
        with self._lock:
            if not self._requests:
                raise LookupError("ScriptedOpenAI has not received any request")
            return self._requests[-1]

    def __enter__(self) -> Self:
        self._thread.start()
        # Wait until the socket listens: a request sent before that would be refused.
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("ScriptedOpenAI did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self._base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # uvicorn's graceful shutdown: close the listener, finish open responses, close sockets.
        self._stopping.set()
        self._server.should_exit = True
        self._thread.join()

    async def __aenter__(self) -> Self:
        # Starting and stopping block briefly; the caller's event loop keeps running meanwhile.
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, traceback)

    def _next_scripted_reply(self, request: Json) -> Reply:
        # Only the server thread consumes the queue.
        return self._replies.popleft() if self._replies else _SCRIPT_EXHAUSTED

    async def _chat_completions(self, http_request: Request) -> Response:
        request: Json = await http_request.json()
        with self._lock:
            self._requests.append(request)
        refusal = _invalid_conversation(request["messages"]) or self._too_long(request)
        if refusal is not None:
            return JSONResponse(refusal, 400)
        reply = self._responder(request)
        await asyncio.sleep(self.delay_seconds)
        # The hold is set from the test's thread: polling is the simplest bridge between loops.
        while self._hold is not None and not (self._hold.is_set() or self._stopping.is_set()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        match reply:
            case Fault(status=status, body=body, headers=headers):
                return JSONResponse(body or _fault_body(status), status, headers)
            case Stall(seconds=seconds):
                # A worker thread waits, so the event loop keeps serving other requests.
                await asyncio.to_thread(self._stopping.wait, seconds)
                return JSONResponse(
                    _error_body("Scripted stall ended without an answer.", "server_error", None),
                    500,
                )
            case Hang():
                await asyncio.to_thread(self._stopping.wait)
                return Response(status_code=499)
            case Answer() | ToolCalls():
                return self._answer(request, *wire.reply_parts(reply))
            case Break(content=content, after_chunks=after_chunks):
                if not request.get("stream"):
                    raise _StreamCut
                chunks = itertools.islice(
                    wire.chunks(request, content, [], wire.usage(request, content, [])),
                    after_chunks,
                )
                return StreamingResponse(
                    _cut_after(_events(chunks, done=False)), media_type="text/event-stream"
                )

    def _answer(self, request: Json, content: str | None, tool_calls: list[Json]) -> Response:
        usage = wire.usage(request, content, tool_calls)
        with self._lock:
            self._usages.append(usage)
        if request.get("stream"):
            chunks = wire.chunks(request, content, tool_calls, usage)
            return StreamingResponse(_events(chunks), media_type="text/event-stream")
        return JSONResponse(wire.completion(request, content, tool_calls, usage))

    def _too_long(self, request: Json) -> Json | None:
        if self.context_window is None:
            return None
        tokens = wire.usage(request, None, [])["prompt_tokens"]
        if tokens <= self.context_window:
            return None
        return _error_body(
            f"This model's maximum context length is {self.context_window} tokens. However, "
            f"your messages resulted in {tokens} tokens. Please reduce the length of the "
            "messages.",
            "invalid_request_error",
            "context_length_exceeded",
            param="messages",
        )


def _invalid_conversation(messages: list[Json]) -> Json | None:
    """OpenAI's refusal of a broken tool-call pairing, or None when the messages pair up."""
    unanswered: list[str] = []  # tool calls of the last assistant message not yet answered
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in unanswered:
                return _error_body(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    "invalid_request_error",
                    None,
                    param=f"messages.[{index}].role",
                )
            unanswered.remove(call_id)
            continue
        if unanswered:
            return _unanswered(unanswered, index)
        if role == "assistant":
            unanswered = [call["id"] for call in message.get("tool_calls") or []]
    return _unanswered(unanswered, len(messages)) if unanswered else None


def _unanswered(call_ids: list[str], index: int) -> Json:
    return _error_body(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(call_ids),
        "invalid_request_error",
        None,
        param=f"messages.[{index}].role",
    )


def _fault_body(status: int) -> Json:
    if status == 429:
        return _error_body("Rate limit reached (scripted).", "requests", "rate_limit_exceeded")
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return _error_body(f"Scripted fault: HTTP {status}.", kind, None)


async def _events(chunks: Iterable[Json], *, done: bool = True) -> AsyncIterator[str]:
    for event in wire.server_sent_events(chunks, done=done):
        yield event


async def _cut_after(events: AsyncIterator[str]) -> AsyncIterator[str]:
    async for event in events:
        yield event
    raise _StreamCut
