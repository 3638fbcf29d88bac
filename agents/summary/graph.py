"""Map-reduce summarisation of one text at a requested length.

    START → split ─Send per chunk→ summarise_chunk → collect ─┬→ END          (one chunk)
                                                               ├→ reduce → END
                                                               └→ collapse ⟲ (partials too long)

Each chunk is summarised in parallel; the partial summaries are then combined by one reduce call.
When the partials together overflow one reduce call, they are first combined group by group
(collapse) for a bounded number of rounds. The model and the budgets come in through the run's
context, so one compiled graph serves every model.
"""

import asyncio
import operator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypedDict

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from agents.summary.chunking import groups_within, split_into_chunks
from agents.tokens import approximate_tokens
from domain.summaries.schemas import Length
from prompts import load_prompt

MAP_PROMPT = load_prompt("summary/map", 1)
REDUCE_PROMPT = load_prompt("summary/reduce", 1)
# Recorded with every run and part of the cache key: a new prompt version re-summarises.
PROMPT_VERSION = f"{MAP_PROMPT.ref}+{REDUCE_PROMPT.ref}"

# Target words per requested length; partial summaries get the same target, so the reduce step
# has at least as much detail to choose from as the final summary holds.
LENGTH_WORDS: dict[Length, int] = {"short": 80, "medium": 200, "long": 400}


@dataclass(frozen=True)
class SummaryContext:
    model: BaseChatModel
    # Small enough for any current chat model's context, with room for the prompt and answer.
    chunk_tokens: int = 3_000
    reduce_input_tokens: int = 8_000
    max_collapse_rounds: int = 3


class SummaryInput(TypedDict):
    text: str
    length: Length


class SummaryOutput(TypedDict):
    chunks: list[str]
    # Exactly one when the graph ends: the summary.
    summaries: list[str]


class SummaryState(SummaryInput, SummaryOutput):
    # Written by the parallel map tasks as (part, summary). `collect` orders them by part:
    # LangGraph happens to apply parallel writes in task order, but does not promise it.
    partials: Annotated[list[tuple[int, str]], operator.add]
    collapse_rounds: int


class ChunkTask(TypedDict):
    chunk: str
    part: int
    parts: int
    length: Length


def split(state: SummaryState, *, runtime: Runtime[SummaryContext]) -> dict[str, Any]:
    return {
        "chunks": split_into_chunks(state["text"], runtime.context.chunk_tokens),
        "collapse_rounds": 0,
    }


def fan_out(state: SummaryState) -> list[Send]:
    parts = len(state["chunks"])
    return [
        Send(
            "summarise_chunk",
            ChunkTask(chunk=chunk, part=part, parts=parts, length=state["length"]),
        )
        for part, chunk in enumerate(state["chunks"], start=1)
    ]


async def summarise_chunk(state: ChunkTask, *, runtime: Runtime[SummaryContext]) -> dict[str, Any]:
    prompt = MAP_PROMPT.render(
        text=state["chunk"],
        part=state["part"],
        parts=state["parts"],
        length=state["length"],
        words=LENGTH_WORDS[state["length"]],
    )
    summary = await _ask(runtime.context.model, prompt)
    return {"partials": [(state["part"], summary)]}


def collect(state: SummaryState) -> dict[str, Any]:
    return {"summaries": [summary for _, summary in sorted(state["partials"])]}


async def collapse(state: SummaryState, *, runtime: Runtime[SummaryContext]) -> dict[str, Any]:
    groups = groups_within(state["summaries"], runtime.context.reduce_input_tokens)
    combined = await asyncio.gather(
        *(_combine(group, state["length"], runtime.context.model) for group in groups)
    )
    return {"summaries": list(combined), "collapse_rounds": state["collapse_rounds"] + 1}


async def reduce(state: SummaryState, *, runtime: Runtime[SummaryContext]) -> dict[str, Any]:
    final = await _combine(state["summaries"], state["length"], runtime.context.model)
    return {"summaries": [final]}


def next_step(state: SummaryState, *, runtime: Runtime[SummaryContext]) -> str:
    summaries = state["summaries"]
    if len(summaries) == 1:
        return END
    too_long = sum(map(approximate_tokens, summaries)) > runtime.context.reduce_input_tokens
    # Past the last round the reduce call takes what is left; a provider refusing an oversized
    # input is answered as a provider error rather than looping on.
    if too_long and state["collapse_rounds"] < runtime.context.max_collapse_rounds:
        return "collapse"
    return "reduce"


async def _combine(summaries: list[str], length: Length, model: BaseChatModel) -> str:
    if len(summaries) == 1:
        # A group of one (the odd one out of a collapse round) has nothing to combine with.
        return summaries[0]
    prompt = REDUCE_PROMPT.render(
        summaries="\n\n".join(
            f'<part n="{n}">\n{summary}\n</part>' for n, summary in enumerate(summaries, start=1)
        ),
        count=len(summaries),
        length=length,
        words=LENGTH_WORDS[length],
    )
    return await _ask(model, prompt)


async def _ask(model: BaseChatModel, prompt: str) -> str:
    # The run's config (its usage callbacks) reaches this call through the node's context
    # (contextvars, Python 3.11+), also from tasks `asyncio.gather` starts.
    answer = await model.ainvoke([HumanMessage(prompt)])
    text = answer.text.strip()
    if not text:
        # Mapped to 502 llm_bad_response; an empty summary must not be cached as an answer.
        raise OutputParserException("The model answered with an empty summary.")
    return text


def build_summary_graph() -> CompiledStateGraph[
    SummaryState, SummaryContext, SummaryInput, SummaryOutput
]:
    builder = StateGraph(
        SummaryState,
        context_schema=SummaryContext,
        input_schema=SummaryInput,
        output_schema=SummaryOutput,
    )
    builder.add_node("split", split)
    builder.add_node("summarise_chunk", summarise_chunk)
    builder.add_node("collect", collect)
    builder.add_node("collapse", collapse)
    builder.add_node("reduce", reduce)
    builder.add_edge(START, "split")
    builder.add_conditional_edges("split", fan_out, ["summarise_chunk"])
    builder.add_edge("summarise_chunk", "collect")
    builder.add_conditional_edges("collect", next_step, ["collapse", "reduce", END])
    builder.add_conditional_edges("collapse", next_step, ["collapse", "reduce", END])
    builder.add_edge("reduce", END)
    return builder.compile(name="summary")


@cache
def summary_graph() -> CompiledStateGraph[
    SummaryState, SummaryContext, SummaryInput, SummaryOutput
]:
    """The graph, compiled once per process: compiling is not free and the graph holds no state."""
    return build_summary_graph()
