"""The model's wire during an eval: every chat-completions request recorded, answered either by
a live OpenAI-compatible server or by the scripted model, in the OpenAI format.

The agents talk through the real `ChatOpenAI` and `openai` clients in both modes: request
building, streaming and response parsing run unchanged; only the transport under the client
differs. The recorded request bodies are what the hard gates read (what reached the model).
"""

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

Json = dict[str, Any]
_WORD = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True)
class Answer:
    content: str


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Json


@dataclass(frozen=True)
class ToolCalls:
    calls: list[ToolCall]


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
        reply = self.policy(body)
        content, calls = (reply.content, []) if isinstance(reply, Answer) else (None, reply.calls)
        tool_calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in calls
        ]
        usage = _usage(body, content, tool_calls)
        if body.get("stream"):
            return httpx2.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_EventStream(list(_chunks(body, content, tool_calls, usage))),
                request=request,
            )
        return httpx2.Response(
            200, json=_completion(body, content, tool_calls, usage), request=request
        )


class _EventStream(httpx2.AsyncByteStream):
    def __init__(self, chunks: list[Json]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"


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


def _envelope(request: Json, kind: str) -> Json:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": request.get("model", ""),
        "system_fingerprint": "fp_scripted",
    }


def _finish_reason(tool_calls: list[Json]) -> str:
    return "tool_calls" if tool_calls else "stop"


def _completion(request: Json, content: str | None, tool_calls: list[Json], usage: Json) -> Json:
    message: Json = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": _finish_reason(tool_calls),
        "logprobs": None,
    }
    return {**_envelope(request, "chat.completion"), "choices": [choice], "usage": usage}


def _chunks(request: Json, content: str | None, tool_calls: list[Json], usage: Json) -> list[Json]:
    envelope = _envelope(request, "chat.completion.chunk")
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: Json, finish_reason: str | None = None) -> Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**envelope, "choices": [choice]} | ({"usage": None} if include_usage else {})

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": word}) for word in _WORD.findall(content or "")]
    for index, call in enumerate(tool_calls):
        # One delta per call is legal in the format; the clients accumulate either way.
        chunks.append(chunk({"tool_calls": [{"index": index, **call}]}))
    chunks.append(chunk({}, _finish_reason(tool_calls)))
    if include_usage:
        chunks.append({**envelope, "choices": [], "usage": usage})
    return chunks


def _usage(request: Json, content: str | None, tool_calls: list[Json]) -> Json:
    """Deterministic token counts, about four characters per token."""
    prompt_chars = sum(len(json.dumps(m.get("content") or "")) for m in request["messages"])
    completion_chars = len(content or "") + sum(len(json.dumps(c)) for c in tool_calls)
    prompt_tokens, completion_tokens = prompt_chars // 4 + 1, completion_chars // 4 + 1
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
