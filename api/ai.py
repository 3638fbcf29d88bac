"""What every AI route shares: the task's model, the user's admission against AI limits, and
the run recorder. Order matters: an unconfigured model answers 503 before any limit is spent."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from langchain_core.language_models import BaseChatModel

from agents.llm import ChatModels, Task
from agents.runs import AgentRuns
from api.deps import CurrentUser, SessionDep, SettingsDep, after_unit_of_work
from api.errors import error_responses
from domain.users.models import User

# The statuses every AI route can answer besides its own.
AI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 422, 429, 502, 503),
    429: {
        **error_responses(429)[429],
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
    },
}


@dataclass(frozen=True)
class AICall:
    user: User
    model: BaseChatModel
    model_name: str
    runs: AgentRuns


def ai_call(task: Task) -> Callable[..., Awaitable[AICall]]:
    async def admit(
        request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
    ) -> AICall:
        models: ChatModels = request.app.state.chat_models
        model = models.for_task(task)
        runs = AgentRuns(
            settings,
            request.app.state.sessionmaker,
            request.app.state.rate_limiter,
            defer_failures=partial(after_unit_of_work, request),
        )
        await runs.admit(user.id)
        # Model calls take seconds: end the authentication's read transaction now rather than
        # keep a pooled connection idle in it. The route's own work begins a new one.
        await session.commit()
        return AICall(user, model, model_name(model), runs)

    return admit


def model_name(model: BaseChatModel) -> str:
    # Scripted models in tests have no provider model name; their class names them instead.
    name = getattr(model, "model_name", None)
    return name if isinstance(name, str) else type(model).__name__


ChatCall = Annotated[AICall, Depends(ai_call("chat"))]
SummaryCall = Annotated[AICall, Depends(ai_call("summary"))]
PlanCall = Annotated[AICall, Depends(ai_call("plan"))]
RecommendCall = Annotated[AICall, Depends(ai_call("recommend"))]
