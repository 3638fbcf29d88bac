"""The chat agent: model → tools → model … until the model answers without tool calls.

Compiled once per process with the Postgres checkpointer; the model, the user and the session
arrive per turn in the run-time context (`ChatContext`), never in the checkpointed state.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

import openai
import structlog
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.tools import ToolException
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime
from pydantic import ValidationError

from agents.chat.context import ChatContext
from agents.limits import is_context_overflow, tool_schema_tokens
from core.errors import AppError, LLMUnavailableError
from tools.reading import (
    get_course,
    list_goals,
    read_schedule,
    search_documents,
    search_notes_and_resources,
)
from tools.scheduling import find_free_time
from tools.writing import create_reminder, create_schedule_block, record_progress

log = structlog.get_logger(__name__)

CHAT_TOOLS = [
    search_notes_and_resources,
    search_documents,
    get_course,
    list_goals,
    read_schedule,
    find_free_time,
    record_progress,
    create_schedule_block,
    create_reminder,
]
# Sent with every model step: part of each request's budget.
CHAT_TOOL_TOKENS = tool_schema_tokens(CHAT_TOOLS)
# Model steps per turn before we stop: tool loops end here, not at a bill.
MAX_MODEL_STEPS = 8
# Graph steps: each model step but the last is followed by a tools step.
RECURSION_LIMIT = 2 * MAX_MODEL_STEPS

ChatGraph = CompiledStateGraph[MessagesState, ChatContext, MessagesState, MessagesState]


def tool_error_message(exc: Exception) -> str:
    """What the model is told when a tool fails: expected failures in words it can act on,
    anything else as a plain failure (details stay in our logs)."""
    if isinstance(exc, ToolException | AppError):
        return f"Error: {exc}"
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return f"Error: invalid arguments: {problems}"
    log.exception("chat_tool_failed", exc_info=exc)
    return "Error: the tool failed unexpectedly. Tell the student it could not be done."


def current_turn_start(messages: Sequence[BaseMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return 0


def fit_history(messages: Sequence[BaseMessage], budget: int) -> list[BaseMessage]:
    """Earlier turns, newest first, as many as fit the budget next to the whole current turn.

    Counting is approximate (characters), so it works offline and costs nothing.
    """
    start = current_turn_start(messages)
    current: list[BaseMessage] = list(messages[start:])
    left = budget - count_tokens_approximately(current)
    if start == 0 or left <= 0:
        return current
    earlier = trim_messages(
        _newest_past(messages[:start], left),
        max_tokens=left,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )
    return [*earlier, *current]


def _newest_past(messages: Sequence[BaseMessage], budget: int) -> Sequence[BaseMessage]:
    """The shortest suffix of `messages` that no longer fits `budget` (all of them if they fit).

    trim_messages counts the whole list and then halves it, which in a long conversation made
    every model step cost more than the one before (O(n log n) in the history). Counted here one
    message at a time from the newest, it costs what the kept turns cost. A list never counts
    less than the sum of its messages' counts, so whatever trim_messages keeps of the whole
    history lies inside this suffix, and it keeps the same from it.
    """
    total = 0
    for index in range(len(messages) - 1, -1, -1):
        total += count_tokens_approximately([messages[index]])
        if total > budget:
            return messages[index:]
    return messages


class TurnDeadlineError(LLMUnavailableError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The model did not finish this turn within {seconds:g} seconds; try again.",
            {"turn_deadline_seconds": seconds},
        )


async def call_model(state: MessagesState, runtime: Runtime[ChatContext]) -> dict[str, Any]:
    ctx = runtime.context
    messages = state["messages"]
    start = current_turn_start(messages)
    first_step = not any(isinstance(m, AIMessage) for m in messages[start:])
    forced = first_step and ctx.first_step_tool_choice == "required"
    model = ctx.model.bind_tools(CHAT_TOOLS, **({"tool_choice": "required"} if forced else {}))
    system = SystemMessage(ctx.system_prompt)
    history = fit_history(messages, ctx.history_token_budget)
    deadline = asyncio.timeout_at(ctx.deadline)
    try:
        async with deadline:
            try:
                reply = await model.ainvoke([system, *history])
            except openai.BadRequestError as exc:
                # Counting is approximate and windows are sometimes misconfigured: the
                # minimum (the system prompt and this turn) once more, so no long past answer
                # can make a conversation unusable.
                this_turn = list(messages[start:])
                if not is_context_overflow(exc) or len(history) == len(this_turn):
                    raise
                log.warning("chat_context_overflow_trimmed", dropped=len(history) - len(this_turn))
                reply = await model.ainvoke([system, *this_turn])
    except TimeoutError as exc:
        # Only the turn's own deadline; a provider's timeout is mapped as such.
        if deadline.expired():
            raise TurnDeadlineError(ctx.deadline_seconds) from exc
        raise
    return {"messages": [reply]}


def build_chat_graph(checkpointer: BaseCheckpointSaver[Any] | None) -> ChatGraph:
    graph = StateGraph(MessagesState, context_schema=ChatContext)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode(CHAT_TOOLS, handle_tool_errors=tool_error_message))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer)
