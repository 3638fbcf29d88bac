"""The OpenAI chat-completions wire format as a scripted model speaks it: completions, streamed
chunks, tool calls and usage, built exactly as OpenAI sends them so the real `openai` and
`ChatOpenAI` clients parse them unchanged.

The eval runner's scripted model answers with these in-process; the test suite's scripted
provider serves them over real HTTP. One builder, so the two never drift apart."""

import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

# A content delta per word, its leading whitespace included; trailing whitespace comes last.
_WORD = re.compile(r"\s*\S+|\s+$")
# Streamed tool-call arguments are cut into pieces of this many characters, like token deltas.
_ARGUMENT_PIECE_CHARS = 8


@dataclass(frozen=True)
class Answer:
    """The assistant answers with text (`finish_reason: "stop"`)."""

    content: str


@dataclass(frozen=True)
class ToolCall:
    """One function call. `arguments` given as a `str` is sent verbatim, e.g. malformed JSON."""

    name: str
    arguments: dict[str, Any] | str
    id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """The assistant calls tools instead of answering (`finish_reason: "tool_calls"`)."""

    calls: list[ToolCall]


def tool_call_json(call: ToolCall) -> Json:
    arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return {
        "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def reply_parts(reply: Answer | ToolCalls) -> tuple[str | None, list[Json]]:
    """The answer's text, or its tool calls on the wire."""
    if isinstance(reply, Answer):
        return reply.content, []
    return None, [tool_call_json(call) for call in reply.calls]


def usage(request: Json, content: str | None, tool_calls: list[Json]) -> Json:
    """Deterministic, plausible token counts: about four characters per token."""
    prompt_chars = sum(_content_chars(message.get("content")) for message in request["messages"])
    completion_chars = len(content or "") + sum(
        len(call["function"]["name"]) + len(call["function"]["arguments"]) for call in tool_calls
    )
    prompt_tokens, completion_tokens = prompt_chars // 4 + 1, completion_chars // 4 + 1
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion(request: Json, content: str | None, tool_calls: list[Json], usage: Json) -> Json:
    """The body of a non-streamed answer."""
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


def chunks(
    request: Json, content: str | None, tool_calls: list[Json], usage: Json
) -> Iterator[Json]:
    """The chunks of a streamed answer, in order (usage last when the request asked for it)."""
    envelope = _envelope(request, "chat.completion.chunk")
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: Json, finish_reason: str | None = None) -> Json:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        # When usage was asked for, OpenAI sends `"usage": null` on every chunk before the last.
        return {**envelope, "choices": [choice]} | ({"usage": None} if include_usage else {})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for word in _WORD.findall(content or ""):
        yield chunk({"content": word})
    for index, call in enumerate(tool_calls):
        function = call["function"]
        # The first delta of a call names it; its arguments follow in pieces.
        head = {"index": index, "id": call["id"], "type": "function"}
        head["function"] = {"name": function["name"], "arguments": ""}
        yield chunk({"tool_calls": [head]})
        arguments = function["arguments"]
        for start in range(0, len(arguments), _ARGUMENT_PIECE_CHARS):
            piece = arguments[start : start + _ARGUMENT_PIECE_CHARS]
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _finish_reason(tool_calls))
    if include_usage:
        yield {**envelope, "choices": [], "usage": usage}


def server_sent_events(stream: Iterable[Json], *, done: bool = True) -> Iterator[str]:
    """`data:` events for the chunks, then `[DONE]` (left out for a stream cut short)."""
    for chunk in stream:
        yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"
    if done:
        yield "data: [DONE]\n\n"


def _envelope(request: Json, kind: str) -> Json:
    """The fields a completion and each of its chunks share."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": request.get("model", ""),
        "system_fingerprint": "fp_scripted",
    }


def _finish_reason(tool_calls: list[Json]) -> str:
    return "tool_calls" if tool_calls else "stop"


def _content_chars(content: object) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):  # content parts: only the text ones count
        return sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
    return 0
