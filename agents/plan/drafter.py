"""The plan graph as one recorded agent run: tokens charged, provider failures mapped."""

import uuid
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from agents.llm import provider_errors
from agents.plan.graph import draft_prompt, draft_sessions
from agents.runs import AgentRuns
from agents.structured import StructuredMethod
from domain.plans.briefs import DraftedSession, PlanBrief
from prompts import Prompt


@dataclass(frozen=True)
class GraphPlanDrafter:
    """Drafts plan sessions for `user_id` with `model`; every draft is one `agent_runs` row."""

    model: BaseChatModel
    model_name: str
    runs: AgentRuns
    user_id: uuid.UUID
    method: StructuredMethod = "tool_calling"
    prompt: Prompt = field(default_factory=draft_prompt)

    @property
    def prompt_version(self) -> str:
        return self.prompt.ref

    async def draft(self, brief: PlanBrief) -> list[DraftedSession]:
        async with self.runs.track(
            self.user_id, "plan", self.model_name, self.prompt_version
        ) as run:
            with provider_errors():
                return await draft_sessions(
                    self.model, self.prompt, brief, run.callbacks, self.method
                )
