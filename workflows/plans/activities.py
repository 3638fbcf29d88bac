"""The plan workflow's activities. `redraft_plan` is the plan agent's whole run: the brief read
in one unit of work, the model called outside any transaction (its client does not retry:
Temporal retries the activity), the run recorded in `agent_runs`. `replan_plan` writes the
re-plan through `PlanService.replan` in its own unit of work; the new sittings' reminders get
their workflows once it commits."""

import structlog
from langchain_core.language_models import BaseChatModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from agents.llm import model_label
from agents.plan import GraphPlanDrafter, replan_prompt
from agents.runs import AgentRuns
from agents.structured import StructuredMethod, structured_method
from core.db import unit_of_work
from core.errors import LLMProviderError
from domain.plans.replan import MODEL_UNUSABLE, NO_MODEL, RedraftedSession, ReplanDraft
from domain.plans.service import PlanService, ReplanResult
from domain.reminders.timers import ReminderTimers
from workflows.plans.inputs import RedraftRequest, ReplanRequest

logger = structlog.get_logger("studypilot.workflows.plans")


class PlanActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        reminder_timers: ReminderTimers,
        model: BaseChatModel | None = None,
        runs: AgentRuns | None = None,
        structured_output: StructuredMethod = "json_schema",
    ) -> None:
        """`model` None: no model is configured; a re-plan places the owed sessions again.
        `structured_output`: the setting saying how the model is asked for the draft's shape."""
        self.sessionmaker, self.reminder_timers = sessionmaker, reminder_timers
        self.model, self.runs, self.structured_output = model, runs, structured_output

    @activity.defn(name="redraft_plan")
    async def redraft(self, request: RedraftRequest) -> ReplanDraft:
        if self.model is None or self.runs is None:
            return ReplanDraft.without_model(NO_MODEL)
        async with unit_of_work(self.sessionmaker) as session:
            ask = await PlanService(session).replan_ask(request.plan_id, request.missed_block_ids)
        if ask is None:
            return ReplanDraft()
        drafter = GraphPlanDrafter(
            self.model,
            model_label(self.model),
            self.runs,
            ask.user_id,
            structured_method(self.model, self.structured_output),
            replan_prompt(),
        )
        try:
            sessions = await drafter.draft(ask.brief)
        except LLMProviderError:
            # The answer's shape (after the graph's one repair) or a refusal: asking again
            # would not help. Recorded in agent_runs by the drafter.
            logger.warning("plan_redraft_unusable", plan_id=str(request.plan_id), exc_info=True)
            return ReplanDraft.without_model(MODEL_UNUSABLE)
        return ReplanDraft(
            sessions=[RedraftedSession.of(session) for session in sessions],
            model=drafter.model_name,
            prompt_version=drafter.prompt_version,
        )

    @activity.defn(name="replan_plan")
    async def replan(self, request: ReplanRequest) -> ReplanResult:
        async with unit_of_work(self.sessionmaker) as session:
            service = PlanService(session, reminder_timers=self.reminder_timers)
            return await service.replan(request.plan_id, request.missed_block_ids, request.draft)
