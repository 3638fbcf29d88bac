"""The job's one activity: read the facts (a short unit of work), word them (the model, outside
any transaction, when one is configured), deliver the notification (another unit of work)."""

import structlog
from langchain_core.language_models import BaseChatModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from agents.digest.writer import write_digest
from agents.runs import AgentRuns
from core.db import unit_of_work
from domain.digests.schemas import Digest, MorningAgendaFacts, WeeklyReviewFacts
from domain.digests.service import DigestService, agenda_digest, review_digest
from domain.notifications.service import NotificationService
from domain.users.models import User
from workflows.agent_jobs.inputs import AgentJobResult, AgentJobRun

logger = structlog.get_logger("studypilot.workflows.agent_jobs")


class AgentJobActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: BaseChatModel | None,
        runs: AgentRuns,
    ) -> None:
        """`model` None: no model is configured; the fixed wording is sent."""
        self.sessionmaker, self.model, self.runs = sessionmaker, model, runs

    @activity.defn(name="run_agent_job")
    async def run(self, job: AgentJobRun) -> AgentJobResult:
        async with unit_of_work(self.sessionmaker) as session:
            done = await NotificationService(session).by_dedupe_key(job.run_key)
            if done is not None:
                # A retry of a run whose delivery committed: no second model call either.
                return AgentJobResult(
                    notification_id=done.id, written_by=str(done.data.get("written_by"))
                )
            user = await session.get(User, job.user_id)
            if user is None:
                return AgentJobResult(notification_id=None, written_by="nobody")
            digests = DigestService(session)
            facts: MorningAgendaFacts | WeeklyReviewFacts = (
                await digests.morning_agenda_facts(user)
                if job.kind == "morning_agenda"
                else await digests.weekly_review_facts(user)
            )
        text = await self._model_text(job, facts)
        digest: Digest = (
            agenda_digest(facts, text)
            if isinstance(facts, MorningAgendaFacts)
            else review_digest(facts, text)
        )
        async with unit_of_work(self.sessionmaker) as session:
            notification = await NotificationService(session).notify(
                job.user_id,
                digest.kind,
                digest.title,
                digest.body,
                data=digest.data,
                dedupe_key=job.run_key,
            )
        return AgentJobResult(
            notification_id=notification.id, written_by=str(digest.data["written_by"])
        )

    async def _model_text(
        self, job: AgentJobRun, facts: MorningAgendaFacts | WeeklyReviewFacts
    ) -> str | None:
        if self.model is None:
            return None
        try:
            return await write_digest(self.model, self.runs, job.user_id, job.kind, facts)
        except Exception:
            # Recorded in agent_runs by the writer; the student still gets the fixed wording.
            logger.warning("digest_model_failed", kind=job.kind, exc_info=True)
            return None
