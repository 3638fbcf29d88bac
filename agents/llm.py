"""The model factory: one `ChatOpenAI` per task, configured by settings, and provider errors.

Any OpenAI-compatible server works through `OPENAI_BASE_URL` (vLLM, Ollama, llama.cpp, gateways).
Retries with exponential backoff (honouring `Retry-After`) are the openai client's own; what is
still failing after them is mapped onto our error contract by `provider_errors`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr, ValidationError

from core.config import Settings
from core.errors import LLMNotConfiguredError, LLMProviderError, LLMUnavailableError

Task = Literal["chat", "summary", "plan", "recommend", "judge"]
TASKS: tuple[Task, ...] = ("chat", "summary", "plan", "recommend", "judge")

# With only OPENAI_API_KEY set, OpenAI's small, cheap, tool-calling model answers every task.
# Other OpenAI-compatible servers (OPENAI_BASE_URL) name their own models, so none is assumed.
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
OPENAI_API_HOST = "api.openai.com"

# Local OpenAI-compatible servers take no key, but the client insists on one.
_KEYLESS_PLACEHOLDER = SecretStr("not-needed")

Provider = Literal["openai", "openai_compatible"]


@dataclass(frozen=True)
class ModelChoice:
    name: str
    # Which setting chose it: the task's own, the shared one, or the provider's default.
    source: str


def provider(settings: Settings) -> Provider | None:
    if settings.openai_base_url is not None:
        host = urlsplit(settings.openai_base_url).hostname
        return "openai" if host == OPENAI_API_HOST else "openai_compatible"
    return "openai" if settings.openai_api_key is not None else None


def choose_model(settings: Settings, task: Task) -> ModelChoice | None:
    """The model `task` runs on and the setting that chose it; None when nothing does."""
    override: str | None = getattr(settings, f"llm_{task}_model")
    if override is not None:
        return ModelChoice(override, f"STUDYPILOT_LLM_{task.upper()}_MODEL")
    if settings.llm_model is not None:
        return ModelChoice(settings.llm_model, "STUDYPILOT_LLM_MODEL")
    if provider(settings) == "openai" and settings.openai_api_key is not None:
        return ModelChoice(DEFAULT_OPENAI_MODEL, "default")
    return None


def model_name(settings: Settings, task: Task) -> str:
    """The model configured for `task`; 503 llm_not_configured naming the setting when none is."""
    choice = choose_model(settings, task)
    if choice is None:
        raise LLMNotConfiguredError(
            "No language model is configured. Set OPENAI_API_KEY (OpenAI, default model "
            f"{DEFAULT_OPENAI_MODEL}), or OPENAI_BASE_URL and STUDYPILOT_LLM_MODEL (or "
            f"STUDYPILOT_LLM_{task.upper()}_MODEL) for another OpenAI-compatible server.",
            {"settings": ["OPENAI_API_KEY", "OPENAI_BASE_URL", "STUDYPILOT_LLM_MODEL"]},
        )
    if provider(settings) is None:
        raise LLMNotConfiguredError(
            "A model is named but no provider is: set OPENAI_API_KEY (OpenAI) or "
            "OPENAI_BASE_URL (any OpenAI-compatible server).",
            {"settings": ["OPENAI_API_KEY", "OPENAI_BASE_URL"]},
        )
    return choice.name


def model_label(model: BaseChatModel) -> str:
    """The name a run is recorded under. Scripted models in tests have no provider model name;
    their class names them instead."""
    name = getattr(model, "model_name", None)
    return name if isinstance(name, str) else type(model).__name__


def chat_model(settings: Settings, task: Task, *, temperature: float | None = None) -> ChatOpenAI:
    return ChatOpenAI(
        model=model_name(settings, task),
        api_key=settings.openai_api_key or _KEYLESS_PLACEHOLDER,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        # A local model can take long before its first streamed token (it reads the whole
        # prompt first): the same bound as for a whole answer, not the client's own 120 s.
        stream_chunk_timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        temperature=temperature,
        # A model that rambles is cut off here, not at the client's timeout.
        max_tokens=max_tokens(settings, task),
        # Token usage on streamed answers too: limits and agent_runs count every token.
        stream_usage=True,
    )


def max_tokens(settings: Settings, task: Task) -> int:
    limit: int = getattr(settings, f"llm_{task}_max_tokens")
    return limit


class ChatModels:
    """The app's models, one per task, made on first use and then reused (with their
    connection pools). Tests swap in scripted models through `with_model`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._models: dict[Task, BaseChatModel] = {}

    def for_task(self, task: Task) -> BaseChatModel:
        if task not in self._models:
            self._models[task] = chat_model(self._settings, task)
        return self._models[task]

    def with_model(self, task: Task, model: BaseChatModel) -> None:
        self._models[task] = model


@contextmanager
def provider_errors() -> Iterator[None]:
    """Turn what the provider still fails with after retries into 503/502 in our error shape."""
    try:
        yield
    except (openai.RateLimitError, openai.InternalServerError) as exc:
        raise LLMUnavailableError(
            "The language model provider is unavailable; try again shortly.",
            {"provider_status": exc.status_code},
        ) from exc
    except (openai.APIConnectionError, TimeoutError) as exc:  # request and stream timeouts
        raise LLMUnavailableError(
            "The language model provider did not answer in time; try again shortly.",
            {"provider_error": type(exc).__name__},
        ) from exc
    except openai.APIStatusError as exc:
        raise LLMProviderError(
            "The language model provider refused the request.",
            {"provider_status": exc.status_code},
        ) from exc
    except (
        OutputParserException,
        ValidationError,
        # Structured parsing cut short by `max_tokens`, or withheld by a content filter.
        openai.LengthFinishReasonError,
        openai.ContentFilterFinishReasonError,
    ) as exc:
        raise LLMProviderError(
            "The language model answered in a shape that could not be used.",
            {"provider_error": type(exc).__name__},
        ) from exc
