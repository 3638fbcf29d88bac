"""Eval runs for the admin UI. Only admins see them; to everyone else they do not exist (404)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from core.errors import NotFoundError
from core.pagination import Page, PageParams, page_params
from domain.evals.comparison import DEFAULT_MARGIN
from domain.evals.schemas import ComparisonRead, EvalRunDetail, EvalRunRead
from domain.evals.service import EvalService
from domain.users.models import User

router = APIRouter(prefix="/evals", tags=["evals"])
PageDep = Annotated[PageParams, Depends(page_params)]


async def require_admin(user: CurrentUser) -> User:
    # 404, not 403: the eval area's existence is not advertised to students.
    if user.role != "admin":
        raise NotFoundError("Not found.")
    return user


Admin = Annotated[User, Depends(require_admin)]


@router.get("/runs", response_model=Page[EvalRunRead], responses=error_responses(401, 404, 422))
async def list_runs(
    admin: Admin,
    session: SessionDep,
    page: PageDep,
    suite: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[EvalRunRead]:
    """Eval runs, newest first, optionally of one suite."""
    runs, cursor = await EvalService(session).list_runs(page, suite)
    return Page(items=[EvalRunRead.model_validate(run) for run in runs], next_cursor=cursor)


@router.get(
    "/runs/{run_id}", response_model=EvalRunDetail, responses=error_responses(401, 404, 422)
)
async def get_run(run_id: uuid.UUID, admin: Admin, session: SessionDep) -> EvalRunDetail:
    """A run with every result: scores with their explanations, tokens, latency, transcript."""
    return await EvalService(session).get_run(run_id)


@router.get("/compare", response_model=ComparisonRead, responses=error_responses(401, 404, 422))
async def compare_runs(
    admin: Admin,
    session: SessionDep,
    baseline: uuid.UUID,
    candidate: uuid.UUID,
    margin: Annotated[float, Query(ge=0, le=1)] = DEFAULT_MARGIN,
) -> ComparisonRead:
    """Baseline against candidate, paired per case: flipped cases first, exact McNemar on the
    flips, paired bootstrap 95% intervals, the non-inferiority verdict. 422 different_suites
    for runs of two suites."""
    return await EvalService(session).compare(baseline, candidate, margin)
