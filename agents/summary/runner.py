"""The summary graph as one recorded agent run: tokens charged, provider failures mapped."""

import uuid

from langchain_core.language_models import BaseChatModel

from agents.llm import provider_errors
from agents.runs import AgentRuns
from agents.summary.chunking import split_into_chunks
from agents.summary.graph import PROMPT_VERSION, SummaryContext, SummaryInput, summary_graph
from domain.summaries.schemas import Length
from domain.summaries.service import Summarised

# Map calls of one run in flight at once: a long text must not burst past provider rate limits.
MAX_CONCURRENT_CALLS = 8


class GraphSummariser:
    """Summarises for one user with one model; every summary made is one `agent_runs` row."""

    prompt_version = PROMPT_VERSION

    def __init__(
        self, model: BaseChatModel, model_name: str, runs: AgentRuns, user_id: uuid.UUID
    ) -> None:
        self.model_name = model_name
        self._runs = runs
        self._user_id = user_id
        self._context = SummaryContext(model=model)

    def chunks_in(self, text: str) -> int:
        return len(split_into_chunks(text, self._context.chunk_tokens))

    async def summarise(self, text: str, length: Length) -> Summarised:
        async with self._runs.track(
            self._user_id, "summary", self.model_name, self.prompt_version
        ) as run:
            # Inside the tracked run, so the run records the mapped error code.
            with provider_errors():
                result = await summary_graph().ainvoke(
                    SummaryInput(text=text, length=length),
                    config={"callbacks": run.callbacks, "max_concurrency": MAX_CONCURRENT_CALLS},
                    context=self._context,
                )
        (summary,) = result["summaries"]
        return Summarised(summary, len(result["chunks"]))
