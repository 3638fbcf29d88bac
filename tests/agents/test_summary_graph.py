"""The summary graph's shape, with scripted models: which calls it makes and what they carry."""

import re
import time
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.summary.chunking import groups_within, split_into_chunks
from agents.summary.graph import (
    LENGTH_WORDS,
    PROMPT_VERSION,
    SummaryContext,
    build_summary_graph,
)
from agents.tokens import approximate_tokens
from domain.summaries.schemas import Length
from tests.fixtures.llm import ScriptedChatModel, scripted

# Each section is about 75 tokens, so with this chunk size every section is a chunk of its own.
CHUNK_TOKENS = 100
GRAPH = build_summary_graph()


def sections(count: int) -> str:
    body = "Cells divide, and energy flows through their membranes. " * 5
    return "\n\n".join(f"Section {n}: {body}" for n in range(1, count + 1))


async def run(
    model: BaseChatModel, text: str, length: Length = "medium", **budgets: int
) -> dict[str, Any]:
    context = SummaryContext(model=model, chunk_tokens=CHUNK_TOKENS, **budgets)
    return await GRAPH.ainvoke({"text": text, "length": length}, context=context)


def prompts(model: ScriptedChatModel, tag: str) -> list[str]:
    """What each call of one kind was sent: `<passage>` for map calls, `<summaries>` for reduce."""
    sent = [str(messages[-1].content) for messages in model.received]
    return [prompt for prompt in sent if f"<{tag}>" in prompt]


async def test_a_short_text_is_summarised_in_one_call() -> None:
    model = scripted("Mitosis splits one cell into two.")
    output = await run(model, "Mitosis: one cell divides into two identical cells.")

    assert output["summaries"] == ["Mitosis splits one cell into two."]
    assert len(output["chunks"]) == 1
    assert len(model.received) == 1
    (prompt,) = prompts(model, "passage")
    assert "Mitosis: one cell divides into two identical cells." in prompt
    assert "part 1 of 1" in prompt


async def test_a_long_text_is_summarised_chunk_by_chunk_then_reduced() -> None:
    model = scripted("partial A", "partial B", "partial C", "The whole, combined.")
    output = await run(model, sections(3))

    assert output["summaries"] == ["The whole, combined."]
    assert len(output["chunks"]) == 3
    maps, reduces = prompts(model, "passage"), prompts(model, "summaries")
    assert len(maps) == 3
    assert len(reduces) == 1
    assert len(model.received) == 4
    # Every chunk went to exactly one map call.
    for n in (1, 2, 3):
        assert sum(f"Section {n}:" in prompt for prompt in maps) == 1
        assert sum(f"part {n} of 3" in prompt for prompt in maps) == 1
    for partial in ("partial A", "partial B", "partial C"):
        assert partial in reduces[0]
    assert "3 summaries" in reduces[0]


class EchoingModel(BaseChatModel):
    """Answers with the section numbers it was sent; earlier sections answer last, so
    parallel calls finish out of order."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        prompt = str(messages[-1].content)
        found = [int(a or b) for a, b in re.findall(r"Section (\d+):|echo-(\d+)", prompt)]
        if "<passage>" in prompt:
            time.sleep(0.05 * (5 - found[0]))
        answer = " ".join(f"echo-{n}" for n in found)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(answer))])

    @property
    def _llm_type(self) -> str:
        return "echoing"


async def test_partials_reach_the_reduce_call_in_the_texts_order() -> None:
    output = await run(EchoingModel(), sections(4), reduce_input_tokens=10_000)

    # The reduce call echoes its input: the partials of sections 1..4, in that order.
    assert output["summaries"] == ["echo-1 echo-2 echo-3 echo-4"]


@pytest.mark.parametrize("length", ["short", "medium", "long"])
async def test_the_requested_length_reaches_every_prompt(length: Length) -> None:
    model = scripted("partial 1", "partial 2", "final")
    await run(model, sections(2), length)

    guidance = f"{length} summary"
    words = f"about {LENGTH_WORDS[length]} words"
    assert len(model.received) == 3
    for prompt in prompts(model, "passage") + prompts(model, "summaries"):
        assert guidance in prompt
        assert words in prompt


async def test_partials_too_long_for_one_reduce_call_are_collapsed_first() -> None:
    partials = [f"partial {n} " + "detail " * 20 for n in range(1, 5)]
    model = scripted(*partials, "first half", "second half", "final")
    # Two partials fit one call, four do not.
    budget = 2 * approximate_tokens(partials[0]) + 1
    output = await run(model, sections(4), reduce_input_tokens=budget)

    assert output["summaries"] == ["final"]
    reduces = prompts(model, "summaries")
    assert len(reduces) == 3
    # Round one combines the partials two by two; the last call combines the two halves.
    assert sorted(prompt.count("<part n=") for prompt in reduces[:2]) == [2, 2]
    assert all(prompt.count("partial ") == 2 for prompt in reduces[:2])
    assert "first half" in reduces[2]
    assert "second half" in reduces[2]


async def test_collapsing_stops_after_its_bound_and_reduces_what_is_left() -> None:
    model = scripted(*(f"partial {n}" for n in range(1, 9)), "c1", "c2", "c3", "c4", "final")
    # Nothing ever fits: without the bound this would collapse until one summary was left.
    output = await run(model, sections(8), reduce_input_tokens=1, max_collapse_rounds=1)

    assert output["summaries"] == ["final"]
    reduces = prompts(model, "summaries")
    assert len(reduces) == 5
    assert reduces[-1].count("<part n=") == 4


async def test_an_empty_answer_is_refused_rather_than_kept_as_a_summary() -> None:
    with pytest.raises(OutputParserException):
        await run(scripted("   "), "A short note.")


def test_the_prompt_version_names_both_prompts() -> None:
    assert PROMPT_VERSION == "summary/map@v1+summary/reduce@v1"


def test_chunks_stay_within_their_token_budget() -> None:
    text = sections(30)
    chunks = split_into_chunks(text, 250)
    assert len(chunks) > 1
    assert all(approximate_tokens(chunk) <= 250 for chunk in chunks)
    for n in range(1, 31):
        assert any(f"Section {n}:" in chunk for chunk in chunks)


def test_groups_fill_the_budget_and_hold_at_least_two() -> None:
    texts = ["a" * 40, "b" * 40, "c" * 40, "d" * 400, "e" * 40]  # 10, 10, 10, 100, 10 tokens
    assert [len(group) for group in groups_within(texts, 25)] == [2, 2, 1]
    assert [len(group) for group in groups_within(texts, 1_000)] == [5]
