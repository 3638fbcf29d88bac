"""`GET /ai/status`: which model each AI task runs on, and which setting chose it. No secrets:
neither the key nor the provider's address is shown."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from agents.llm import TASKS, Provider, Task, choose_model, provider
from api.deps import CurrentUser, SettingsDep
from api.errors import error_responses

router = APIRouter(tags=["ai"])


class TaskModel(BaseModel):
    model: str | None = Field(description="The model's name; null: this task answers 503.")
    source: str | None = Field(
        description="The setting that chose it (e.g. STUDYPILOT_LLM_CHAT_MODEL), or `default` "
        "for the OpenAI provider's default model."
    )
    ready: bool = Field(description="A model and a provider are both configured.")


class AIStatus(BaseModel):
    provider: Provider | None = Field(
        description="openai (OPENAI_API_KEY, no other base URL), openai_compatible "
        "(OPENAI_BASE_URL), or null when neither is set."
    )
    tasks: dict[Task, TaskModel]
    status: Literal["ready", "partial", "not_configured"]


@router.get(
    "/ai/status",
    response_model=AIStatus,
    responses=error_responses(401),
    summary="Which model each AI task uses",
)
async def ai_status(_: CurrentUser, settings: SettingsDep) -> AIStatus:
    kind = provider(settings)
    tasks: dict[Task, TaskModel] = {}
    for task in TASKS:
        choice = choose_model(settings, task)
        tasks[task] = TaskModel(
            model=choice.name if choice else None,
            source=choice.source if choice else None,
            ready=choice is not None and kind is not None,
        )
    ready = [entry.ready for entry in tasks.values()]
    status: Literal["ready", "partial", "not_configured"] = (
        "ready" if all(ready) else "partial" if any(ready) else "not_configured"
    )
    return AIStatus(provider=kind, tasks=tasks, status=status)
