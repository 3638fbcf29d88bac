import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.pagination import PageParams, paginate
from domain.plans.models import PlanReplanProposal, StudyPlan


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_owned(
        self, user_id: uuid.UUID, plan_id: uuid.UUID, *, for_update: bool = False
    ) -> StudyPlan | None:
        """The caller's plan with its sessions; `for_update` serialises accepting one plan."""
        statement = (
            select(StudyPlan)
            .where(StudyPlan.id == plan_id, StudyPlan.user_id == user_id)
            .options(selectinload(StudyPlan.sessions))
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update(of=StudyPlan)
        return (await self.session.scalars(statement)).one_or_none()

    async def get(self, plan_id: uuid.UUID, *, for_update: bool = False) -> StudyPlan | None:
        """Whoever owns it: for the plan's workflow, which acts for the owner."""
        statement = (
            select(StudyPlan)
            .where(StudyPlan.id == plan_id)
            .options(selectinload(StudyPlan.sessions))
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update(of=StudyPlan)
        return (await self.session.scalars(statement)).one_or_none()

    async def accepted_for_goal(self, goal_id: uuid.UUID) -> list[uuid.UUID]:
        statement = select(StudyPlan.id).where(
            StudyPlan.goal_id == goal_id, StudyPlan.status == "accepted"
        )
        return list(await self.session.scalars(statement))

    async def list_page(
        self, user_id: uuid.UUID, params: PageParams
    ) -> tuple[list[StudyPlan], str | None]:
        statement = select(StudyPlan).where(StudyPlan.user_id == user_id)
        return await paginate(self.session, statement, [StudyPlan.created_at, StudyPlan.id], params)

    async def add(self, plan: StudyPlan) -> StudyPlan:
        """Stores the plan with its sessions (already attached)."""
        self.session.add(plan)
        await self.session.flush()
        await self.session.refresh(plan, ["created_at", "updated_at"])
        return plan

    async def delete(self, plan: StudyPlan) -> None:
        # Its sessions are loaded, so the ORM deletes them with it.
        await self.session.delete(plan)
        await self.session.flush()

    async def pending_proposal(self, plan_id: uuid.UUID) -> PlanReplanProposal | None:
        statement = select(PlanReplanProposal).where(
            PlanReplanProposal.plan_id == plan_id, PlanReplanProposal.status == "pending"
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def proposal_owned(
        self, user_id: uuid.UUID, plan_id: uuid.UUID, proposal_id: uuid.UUID
    ) -> PlanReplanProposal | None:
        statement = select(PlanReplanProposal).where(
            PlanReplanProposal.id == proposal_id,
            PlanReplanProposal.plan_id == plan_id,
            PlanReplanProposal.user_id == user_id,
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def supersede_pending(self, plan_id: uuid.UUID) -> None:
        await self.session.execute(
            update(PlanReplanProposal)
            .where(PlanReplanProposal.plan_id == plan_id, PlanReplanProposal.status == "pending")
            .values(status="superseded")
        )

    async def add_proposal(self, proposal: PlanReplanProposal) -> PlanReplanProposal:
        self.session.add(proposal)
        await self.session.flush()
        await self.session.refresh(proposal, ["created_at"])
        return proposal
