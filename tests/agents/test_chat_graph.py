"""The chat graph's own logic, with scripted models and an in-memory checkpointer."""

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import ToolException
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import MessagesState
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agents.chat.context import ChatContext
from agents.chat.graph import build_chat_graph, fit_history, tool_error_message
from core.errors import NotFoundError
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.embeddings import HashingEmbedder
from tests.fixtures.factories.users import create_user
from tests.fixtures.llm import scripted, tool_call


def _turn(n: int, words: int) -> list[AnyMessage]:
    return [HumanMessage(f"question {n} " + "word " * words), AIMessage(f"answer {n}")]


def test_history_keeps_the_newest_whole_turns_within_the_budget() -> None:
    history = [message for n in range(10) for message in _turn(n, 200)]
    current = [
        HumanMessage("now?"),
        tool_call("list_goals"),
        ToolMessage("[]", tool_call_id="call_1"),
    ]

    kept = fit_history([*history, *current], budget=700)

    assert kept[-3:] == current
    earlier = kept[:-3]
    assert earlier, "some history fits"
    assert isinstance(earlier[0], HumanMessage)  # whole turns only
    assert earlier[-1] == history[-1]  # the newest ones
    assert count_tokens_approximately(kept) <= 700


@pytest.mark.parametrize("budget", [60, 700, 5_000, 50_000])
def test_a_long_history_is_trimmed_as_if_counted_whole(budget: int) -> None:
    history: list[AnyMessage] = []
    for n in range(400):
        history += [
            HumanMessage(f"question {n} " + "word " * (n % 37)),
            tool_call("list_goals", call_id=f"call_{n}"),
            ToolMessage("[]", tool_call_id=f"call_{n}"),
            AIMessage(f"answer {n} " + "more " * (n % 11)),
        ]
    current: list[AnyMessage] = [HumanMessage("and now?")]
    whole = trim_messages(
        history,
        max_tokens=budget - count_tokens_approximately(current),
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )

    assert fit_history([*history, *current], budget=budget) == [*whole, *current]


def test_the_current_turn_is_never_cut_even_over_budget() -> None:
    current: list[AnyMessage] = [HumanMessage("x " * 5_000)]
    assert fit_history([*_turn(0, 10), *current], budget=100) == current


class _Args(BaseModel):
    minutes: int


def test_tool_errors_reach_the_model_in_words_it_can_use() -> None:
    assert tool_error_message(NotFoundError("Goal not found.")) == "Error: Goal not found."
    assert tool_error_message(ToolException("refused")) == "Error: refused"
    with pytest.raises(ValidationError) as invalid:
        _Args.model_validate({"minutes": "many"})
    assert tool_error_message(invalid.value).startswith("Error: invalid arguments: minutes:")
    unexpected = tool_error_message(RuntimeError("password=hunter2"))
    assert "hunter2" not in unexpected
    assert "unexpectedly" in unexpected


async def test_a_long_thread_is_trimmed_before_the_model_sees_it(
    db_session: AsyncSession,
) -> None:
    user = await create_user(db_session)
    graph = build_chat_graph(InMemorySaver())
    model = scripted(*[f"answer {n}" for n in range(6)])
    config: RunnableConfig = {"configurable": {"thread_id": "t"}}
    for n in range(6):
        context = ChatContext(
            user=user,
            session=db_session,
            embedding=EmbeddingRuntime(HashingEmbedder(), "test:hashing"),
            request_text=f"q{n}",
            model=model,
            system_prompt="system",
            history_token_budget=300,
        )
        turn: MessagesState = {"messages": [HumanMessage(f"q{n} " + "padding " * 60)]}
        await graph.ainvoke(turn, config, context=context)

    state = await graph.aget_state(config)
    assert len(state.values["messages"]) == 12  # the thread keeps everything
    last_call = model.received[-1]
    assert last_call[0].content == "system"
    assert len(last_call) < 12  # but the model got a trimmed window
    assert last_call[-1].text.startswith("q5")
