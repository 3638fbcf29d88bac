"""The recommend graph as one recorded agent run: tokens charged, provider failures mapped."""

import uuid
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from agents.llm import provider_errors
from agents.recommend.graph import choose
from agents.runs import AgentRuns
from agents.structured import StructuredMethod
from domain.recommendations.service import CandidatePool, Choice
from prompts import Prompt


@dataclass(frozen=True)
class GraphRanker:
    """Ranks candidates for `user_id` with `model`; every ranking is one `agent_runs` row."""

    model: BaseChatModel
    model_name: str
    runs: AgentRuns
    user_id: uuid.UUID
    prompt: Prompt
    method: StructuredMethod = "tool_calling"

    async def rank(self, pool: CandidatePool, limit: int) -> tuple[list[Choice], uuid.UUID]:
        async with self.runs.track(
            self.user_id, "recommend", self.model_name, self.prompt.ref
        ) as run:
            with provider_errors():
                choices = await choose(
                    self.model, self.prompt, pool, limit, run.callbacks, self.method
                )
        return choices, run.id
