"""ScriptedOpenAI against the real clients: its wire format is what openai and ChatOpenAI expect."""

import json
import time
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import SecretStr

from tests.support.scripted_openai import (
    Answer,
    Fault,
    Reply,
    ScriptedOpenAI,
    Stall,
    ToolCall,
    ToolCalls,
)

MODEL = "gpt-test"
QUESTION = "What should I study today?"
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": QUESTION}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "find_notes",
            "description": "Find the student's notes on a topic.",
            "parameters": {
                "type": "object",
                "properties": {"topic": {"type": "string"}},
                "required": ["topic"],
            },
        },
    }
]


@tool
def find_notes(topic: str) -> str:
    """Find the student's notes on a topic."""
    return f"Notes on {topic}."


def client(server: ScriptedOpenAI, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", **options)


def chat_model(server: ScriptedOpenAI) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key=SecretStr("test"),
        max_retries=0,
        stream_usage=True,
    )


def tokens(text: str) -> int:
    return len(text) // 4 + 1


async def test_answer() -> None:
    content = "Review chapter 3, then try the exercises."
    async with ScriptedOpenAI([Answer(content)]) as server, client(server) as openai_client:
        completion = await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == (content, "stop")
    assert completion.model == MODEL
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == tokens(QUESTION)
    assert completion.usage.completion_tokens == tokens(content)
    assert server.last_request["messages"] == MESSAGES


@pytest.mark.parametrize("include_usage", [True, False])
async def test_streamed_answer(include_usage: bool) -> None:
    content = "Review chapter 3, then try the exercises."
    async with ScriptedOpenAI([Answer(content)]) as server, client(server) as openai_client:
        stream = await openai_client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": include_usage},
        )
        chunks = [chunk async for chunk in stream]

    deltas = [chunk.choices[0].delta.content for chunk in chunks if chunk.choices]
    assert "".join(delta or "" for delta in deltas) == content
    assert len([delta for delta in deltas if delta]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = [chunk.usage for chunk in chunks if chunk.usage is not None]
    if include_usage:
        assert chunks[-1].choices == []
        assert usage == [chunks[-1].usage]
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.total_tokens == tokens(QUESTION) + tokens(content)
    else:
        assert usage == []


async def test_tool_calls() -> None:
    calls = [
        ToolCall("find_notes", {"topic": "algebra"}),
        ToolCall("find_notes", {"topic": "geometry"}, id="call_geometry"),
    ]
    async with ScriptedOpenAI([ToolCalls(calls)]) as server, client(server) as openai_client:
        completion = await openai_client.chat.completions.create(
            model=MODEL, messages=MESSAGES, tools=TOOLS
        )

    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == (None, "tool_calls")
    received = choice.message.tool_calls or []
    assert [
        (call.function.name, json.loads(call.function.arguments))
        for call in received
        if call.type == "function"
    ] == [("find_notes", {"topic": "algebra"}), ("find_notes", {"topic": "geometry"})]
    assert received[0].id.startswith("call_")
    assert received[1].id == "call_geometry"
    assert server.last_request["tools"] == TOOLS


async def test_streamed_tool_calls() -> None:
    calls = [
        ToolCall("find_notes", {"topic": "linear algebra"}, id="call_1"),
        ToolCall("find_notes", {"topic": "geometry"}, id="call_2"),
    ]
    async with ScriptedOpenAI([ToolCalls(calls)]) as server, client(server) as openai_client:
        # The client's own accumulator assembles the deltas.
        stream = openai_client.chat.completions.stream(model=MODEL, messages=MESSAGES, tools=TOOLS)
        async with stream as events:
            completion = await events.get_final_completion()

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in choice.message.tool_calls or []
        if call.type == "function"
    ] == [
        ("call_1", "find_notes", {"topic": "linear algebra"}),
        ("call_2", "find_notes", {"topic": "geometry"}),
    ]


async def test_chat_openai_tool_calls_invoked_and_streamed() -> None:
    call = ToolCall("find_notes", {"topic": "algebra"}, id="call_algebra")
    script: list[Reply] = [ToolCalls([call]), ToolCalls([call])]
    async with ScriptedOpenAI(script) as server:
        model = chat_model(server).bind_tools([find_notes])
        invoked = await model.ainvoke(QUESTION)
        chunks = [chunk async for chunk in model.astream(QUESTION)]

    assert isinstance(invoked, AIMessage)
    assert [(call["name"], call["args"], call["id"]) for call in invoked.tool_calls] == [
        ("find_notes", {"topic": "algebra"}, "call_algebra")
    ]
    assert invoked.usage_metadata is not None
    assert invoked.usage_metadata["input_tokens"] == tokens(QUESTION)
    streamed = AIMessageChunk(content="")
    for chunk in chunks:
        assert isinstance(chunk, AIMessageChunk)
        streamed += chunk
    assert streamed.tool_calls == invoked.tool_calls
    assert streamed.usage_metadata == invoked.usage_metadata
    assert [tool["function"]["name"] for tool in server.last_request["tools"]] == ["find_notes"]
    assert server.last_request["stream_options"] == {"include_usage": True}


async def test_malformed_tool_arguments_are_invalid_tool_calls() -> None:
    async with ScriptedOpenAI([ToolCalls([ToolCall("x", arguments="{not json")])]) as server:
        message = await chat_model(server).ainvoke(QUESTION)

    assert isinstance(message, AIMessage)
    assert message.tool_calls == []
    assert [(call["name"], call["args"]) for call in message.invalid_tool_calls] == [
        ("x", "{not json")
    ]


async def test_responder_calls_a_tool_then_answers() -> None:
    def responder(request: dict[str, Any]) -> Reply:
        if request["messages"][-1]["role"] == "tool":
            return Answer("Start with your algebra notes.")
        return ToolCalls([ToolCall("find_notes", {"topic": "algebra"})])

    async with ScriptedOpenAI(responder=responder) as server:
        model = chat_model(server).bind_tools([find_notes])
        conversation = [HumanMessage(QUESTION)]
        for _ in range(2):  # endless: the same exchange works again and again
            call = await model.ainvoke(conversation)
            assert isinstance(call, AIMessage)
            result = await find_notes.ainvoke(call.tool_calls[0])  # a ToolMessage
            answer = await model.ainvoke([*conversation, call, result])
            assert answer.content == "Start with your algebra notes."
            assert server.last_request["messages"][-1] == {
                "role": "tool",
                "content": "Notes on algebra.",
                "tool_call_id": result.tool_call_id,
            }

    assert len(server.requests) == 4


async def test_rate_limit_is_retried() -> None:
    script: list[Reply] = [Fault(429, headers={"retry-after-ms": "10"}), Answer("Done.")]
    async with ScriptedOpenAI(script) as server, client(server, max_retries=2) as openai_client:
        completion = await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert completion.choices[0].message.content == "Done."
    assert len(server.requests) == 2


async def test_server_errors_exhaust_retries() -> None:
    # Not an `async with`: the sync context manager works inside a running event loop too.
    with ScriptedOpenAI([Fault(500, headers={"retry-after-ms": "10"})] * 3) as server:
        async with client(server, max_retries=2) as openai_client:
            with pytest.raises(openai.InternalServerError):
                await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert len(server.requests) == 3


STALL_SECONDS = 60.0


async def test_stall_trips_the_client_timeout() -> None:
    started = time.perf_counter()
    stall = Stall(STALL_SECONDS)
    async with ScriptedOpenAI([stall]) as server, client(server, timeout=0.3) as openai_client:
        with pytest.raises(openai.APITimeoutError):
            await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    # Stopping the server cut the stall short: without that, leaving the block takes a minute.
    assert time.perf_counter() - started < STALL_SECONDS / 2


async def test_exhausted_script_is_a_server_error_not_retried() -> None:
    async with ScriptedOpenAI([]) as server, client(server, max_retries=2) as openai_client:
        with pytest.raises(openai.InternalServerError, match="script is exhausted"):
            await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert len(server.requests) == 1


async def test_delay_is_added_to_every_answer() -> None:
    async with (
        ScriptedOpenAI([Answer("Done.")], delay_seconds=0.05) as server,
        client(server) as openai_client,
    ):
        started = time.perf_counter()
        await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert time.perf_counter() - started >= 0.05


def test_replies_and_responder_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        ScriptedOpenAI([Answer("Done.")], responder=lambda request: Answer("Done."))


CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "find_notes", "arguments": "{}"}},
        {"id": "call_b", "type": "function", "function": {"name": "find_notes", "arguments": "{}"}},
    ],
}


def _tool_result(call_id: str) -> dict[str, str]:
    return {"role": "tool", "tool_call_id": call_id, "content": "Notes."}


@pytest.mark.parametrize(
    ("messages", "refusal"),
    [
        ([*MESSAGES, _tool_result("call_a")], "must be a response to a preceeding message"),
        ([*MESSAGES, CALL, _tool_result("call_a")], "did not have response messages: call_b"),
        (
            [*MESSAGES, CALL, _tool_result("call_a"), *MESSAGES, _tool_result("call_b")],
            "did not have response messages: call_b",
        ),
        ([*MESSAGES, CALL, _tool_result("call_a"), _tool_result("call_c")], "preceeding"),
    ],
    ids=["orphan tool result", "unanswered call", "answer after another message", "unknown id"],
)
async def test_broken_tool_call_pairing_is_refused_like_openai(
    messages: list[Any], refusal: str
) -> None:
    async with ScriptedOpenAI([Answer("Never sent.")]) as server, client(server) as openai_client:
        with pytest.raises(openai.BadRequestError, match=refusal) as raised:
            await openai_client.chat.completions.create(model=MODEL, messages=messages)
        # The refusal consumed no scripted reply.
        completion = await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert raised.value.status_code == 400
    assert completion.choices[0].message.content == "Never sent."


async def test_paired_tool_calls_are_accepted() -> None:
    messages: list[Any] = [*MESSAGES, CALL, _tool_result("call_b"), _tool_result("call_a")]
    async with ScriptedOpenAI([Answer("Done.")]) as server, client(server) as openai_client:
        completion = await openai_client.chat.completions.create(model=MODEL, messages=messages)

    assert completion.choices[0].message.content == "Done."


async def test_a_prompt_over_the_context_window_is_refused_like_openai() -> None:
    long = [{"role": "user", "content": "x" * 400}]
    async with (
        ScriptedOpenAI([Answer("Short enough.")], context_window=50) as server,
        client(server) as openai_client,
    ):
        with pytest.raises(openai.BadRequestError) as raised:
            await openai_client.chat.completions.create(model=MODEL, messages=long)  # type: ignore[arg-type]
        completion = await openai_client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert raised.value.code == "context_length_exceeded"
    assert "maximum context length is 50 tokens" in raised.value.message
    assert "101 tokens" in raised.value.message
    assert completion.choices[0].message.content == "Short enough."
