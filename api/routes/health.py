import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from core.temporal_health import WorkerPoll, temporal_is_healthy, worker_polls

router = APIRouter(tags=["health"])

ComponentState = Literal["ok", "error"]
HEALTH_CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    components: dict[str, ComponentState] = Field(
        description="database always; redis when REDIS_URL is set; temporal when TEMPORAL_ADDRESS "
        "is set."
    )
    workers: list[WorkerPoll] | None = Field(
        default=None,
        description="With temporal: the workflow workers polling the task queue and when each "
        "last polled (their heartbeat as the Temporal server sees it). Empty: no worker runs, "
        "and reminders wait until one does.",
    )
    # Present only on 503, so the body also satisfies the API's error shape.
    code: str | None = None
    message: str | None = None


async def _database_state(request: Request) -> ComponentState:
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:
        return "error"
    return "ok"


async def _rate_limiter_state(request: Request) -> ComponentState:
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS):
            healthy = await request.app.state.rate_limiter.is_healthy()
    except Exception:
        return "error"
    return "ok" if healthy else "error"


async def _temporal_state(request: Request) -> tuple[ComponentState, list[WorkerPoll]]:
    client, task_queue = request.app.state.temporal, request.app.state.settings.temporal_task_queue
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS):
            if not await temporal_is_healthy(client):
                return "error", []
            return "ok", await worker_polls(client, task_queue)
    except Exception:
        return "error", []


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "A component is down."}},
    summary="Liveness and dependencies",
)
async def health(request: Request) -> JSONResponse:
    components: dict[str, ComponentState] = {"database": await _database_state(request)}
    workers: list[WorkerPoll] | None = None
    if request.app.state.rate_limiter.backend == "redis":
        components["redis"] = await _rate_limiter_state(request)
    if request.app.state.temporal is not None:
        components["temporal"], workers = await _temporal_state(request)
    down = [name for name, state in components.items() if state != "ok"]
    if not down:
        return JSONResponse(
            Health(status="ok", components=components, workers=workers).model_dump(
                mode="json", exclude_none=True
            )
        )
    body = Health(
        status="unavailable",
        components=components,
        workers=workers,
        code="service_unavailable",
        message=f"Unavailable: {', '.join(down)}.",
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=503)
