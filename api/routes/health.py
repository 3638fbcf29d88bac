import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

router = APIRouter(tags=["health"])

ComponentState = Literal["ok", "error"]
HEALTH_CHECK_TIMEOUT_SECONDS = 2.0


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    components: dict[str, ComponentState] = Field(
        description="database always; redis when REDIS_URL is set."
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


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A component is down."}},
    summary="Liveness and dependencies",
)
async def health(request: Request) -> JSONResponse:
    components: dict[str, ComponentState] = {"database": await _database_state(request)}
    if request.app.state.rate_limiter.backend == "redis":
        components["redis"] = await _rate_limiter_state(request)
    down = [name for name, state in components.items() if state != "ok"]
    if not down:
        return JSONResponse(
            Health(status="ok", components=components).model_dump(exclude_none=True)
        )
    body = Health(
        status="unavailable",
        components=components,
        code="service_unavailable",
        message=f"Unavailable: {', '.join(down)}.",
    )
    return JSONResponse(body.model_dump(), status_code=503)
