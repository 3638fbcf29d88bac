"""The model's wire during an eval: every chat-completions request recorded, answered either by
a live OpenAI-compatible server or by the scripted model, in the OpenAI format.

The agents talk through the real `ChatOpenAI` and `openai` clients in both modes: request
building, streaming and response parsing run unchanged; only the transport under the client
differs. The recorded request bodies are what the hard gates read (what reached the model).
"""

import json
from collections.abc import AsyncIterator, Callable

import httpx2
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from evals import openai_wire
from evals.openai_wire import Answer, Json, ToolCalls

Reply = Answer | ToolCalls
Policy = Callable[[Json], Reply]


class ModelWire:
    """What went over the wire since the last `reset()`: request bodies, oldest first."""

    def __init__(self) -> None:
        self.requests: list[Json] = []

    def reset(self) -> None:
        self.requests = []


class RecordingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, wire: ModelWire) -> None:
        self._inner = inner
        self._wire = wire

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/chat/completions"):
            body = await request.aread()
            self._wire.requests.append(json.loads(body))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ScriptedTransport(httpx2.AsyncBaseTransport):
    """Answers chat completions from `policy` (a function of the request), JSON or streamed."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body: Json = json.loads(await request.aread())
        content, tool_calls = openai_wire.reply_parts(self.policy(body))
        usage = openai_wire.usage(body, content, tool_calls)
        if body.get("stream"):
            return httpx2.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_EventStream(list(openai_wire.chunks(body, content, tool_calls, usage))),
                request=request,
            )
        return httpx2.Response(
            200, json=openai_wire.completion(body, content, tool_calls, usage), request=request
        )


class _EventStream(httpx2.AsyncByteStream):
    def __init__(self, chunks: list[Json]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in openai_wire.server_sent_events(self._chunks):
            yield event.encode()


def chat_model(
    *,
    model: str,
    wire: ModelWire,
    policy: Policy | None = None,
    base_url: str | None = None,
    api_key: SecretStr | None = None,
    timeout: float = 60.0,
) -> ChatOpenAI:
    """A `ChatOpenAI` whose traffic `wire` records: to `base_url` (live) or to `policy`."""
    inner: httpx2.AsyncBaseTransport = (
        ScriptedTransport(policy) if policy is not None else httpx2.AsyncHTTPTransport()
    )
    client = httpx2.AsyncClient(transport=RecordingTransport(inner, wire), timeout=timeout)
    return ChatOpenAI(
        model=model,
        api_key=api_key or SecretStr("not-needed"),
        base_url=base_url or "http://scripted.invalid/v1",
        http_async_client=client,
        # Live runs: temperature 0 where the provider honours it; retries are not ours to judge.
        temperature=0,
        max_retries=2 if policy is None else 0,
        stream_usage=True,
    )
