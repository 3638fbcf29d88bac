import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from agents.plan import GraphPlanDrafter
from api.ai import AI_ERROR_RESPONSES, PlanCall
from api.deps import CurrentUser, SessionDep, release_connection
from api.errors import error_responses
from core.pagination import Page, PageParams, page_params
from domain.plans.schemas import (
    PlanAccept,
    PlanCreate,
    PlanRead,
    PlanSummary,
    PlanUpdate,
    ReplanAccept,
)
from domain.plans.service import PlanService

ai_router = APIRouter(prefix="/ai", tags=["ai"])
plans_router = APIRouter(prefix="/plans", tags=["plans"])
PageDep = Annotated[PageParams, Depends(page_params)]


@ai_router.post(
    "/create-plan",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    responses=AI_ERROR_RESPONSES | error_responses(404),
    summary="Draft a study plan that fits your calendar",
)
async def create_plan(body: PlanCreate, call: PlanCall, session: SessionDep) -> PlanRead:
    """A model drafts the sessions for a goal or course; a scheduler places them in your free
    time (available hours, daily cap, breaks, existing blocks) and proves it. Stored as a draft:
    nothing is added to your schedule until you accept it. When not everything fits, the draft
    says so (`proof.fits` false, `minutes_short`, `full_days`, `unplaced_sessions`). When the
    model's draft cannot be used (after one repair), the sessions are drafted from the course's
    modules and the work left, placed the same way, and marked `drafted_by: "fallback"` with
    `fallback_reason`. 404 for another user's goal or private course."""
    drafter = GraphPlanDrafter(
        call.model, call.model_name, call.runs, call.user.id, call.structured
    )
    return await PlanService(session).create_draft(
        call.user, body, drafter, partial(release_connection, session)
    )


@plans_router.get("", response_model=Page[PlanSummary], responses=error_responses(401, 422))
async def list_plans(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[PlanSummary]:
    """Your plans, newest first, without their sessions."""
    return await PlanService(session).list_plans(user, page)


async def get_plan_service(request: Request, session: SessionDep) -> PlanService:
    """The service with the app's workflow ports (None without a workflow engine)."""
    state = request.app.state
    return PlanService(session, reminder_timers=state.reminder_timers, tracker=state.plan_tracker)


Plans = Annotated[PlanService, Depends(get_plan_service)]


@plans_router.get("/{plan_id}", response_model=PlanRead, responses=error_responses(401, 404, 422))
async def get_plan(plan_id: uuid.UUID, user: CurrentUser, plans: Plans) -> PlanRead:
    """The plan; once accepted, with `tracking` from the workflow that follows it."""
    plan = await plans.get(user, plan_id)
    if plan.status == "draft" or plans.tracker is None:
        return plan
    return plan.model_copy(update={"tracking": await plans.tracker.status(plan_id)})


@plans_router.patch("/{plan_id}", response_model=PlanRead, responses=error_responses(401, 404, 422))
async def update_plan(
    plan_id: uuid.UUID, body: PlanUpdate, user: CurrentUser, plans: Plans
) -> PlanRead:
    """Changes a plan's settings, a draft's or a followed one's: `auto_replan`. A re-plan
    already proposed stays there to accept."""
    return await plans.update(user, plan_id, body)


@plans_router.post(
    "/{plan_id}/accept", response_model=PlanRead, responses=error_responses(401, 404, 409, 422)
)
async def accept_plan(
    plan_id: uuid.UUID, user: CurrentUser, plans: Plans, body: PlanAccept | None = None
) -> PlanRead:
    """Adds one study block per slot to your schedule, with a reminder 15 minutes before each
    slot still ahead, and starts following the plan: progress on its goal, missed sessions
    (then a re-plan of what is owed, with a notification), until its last day. The body is
    optional: `auto_replan: false` makes a re-plan a proposal you accept or leave (also settable
    with `PATCH /plans/{id}`). 409
    `plan_conflicts` (nothing written) when a slot is no longer free; 409 `plan_not_draft` when
    the plan was already accepted."""
    return await plans.accept(user, plan_id, body)


@plans_router.post(
    "/{plan_id}/replan/accept",
    response_model=PlanRead,
    responses=error_responses(401, 404, 409, 422),
)
async def accept_replan(
    plan_id: uuid.UUID, body: ReplanAccept, user: CurrentUser, plans: Plans
) -> PlanRead:
    """Applies the plan's pending re-plan proposal (`replan_proposal` of `GET /plans/{id}`):
    the blocks it replaces (and their reminders) leave your schedule, its slots are written
    with reminders, and the plan is followed on them. 409 `plan_conflicts` (nothing written)
    when a slot is taken or no longer ahead; 409 `replan_proposal_stale` when a newer proposal
    or progress on the goal superseded it, or it was applied; 409 `plan_not_active` unless the
    plan is accepted; 404 for a proposal of no plan of yours."""
    return await plans.accept_replan(user, plan_id, body.proposal_id)


@plans_router.post(
    "/{plan_id}/cancel", response_model=PlanRead, responses=error_responses(401, 404, 409, 422)
)
async def cancel_plan(plan_id: uuid.UUID, user: CurrentUser, plans: Plans) -> PlanRead:
    """Stops following an accepted plan: its sessions still ahead (and their reminders) leave
    your schedule; past ones stay. 409 `plan_not_active` unless the plan is accepted."""
    return await plans.cancel(user, plan_id)


@plans_router.delete(
    "/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 404, 409, 422),
)
async def delete_plan(plan_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Discards a draft; an accepted plan answers 409 `plan_not_draft`."""
    await PlanService(session).delete(user, plan_id)


router = APIRouter()
router.include_router(ai_router)
router.include_router(plans_router)
