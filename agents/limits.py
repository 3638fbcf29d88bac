"""How much a model can read, and how a chat turn's share of it is split.

One number comes from the model: its context window (a setting, else known per model family).
Everything a chat request sends is budgeted from it: the answer's room (the task's max tokens),
the tool schemas, the system prompt with its attachments, and what is left for history. Token
counts are approximate (characters), so a margin is kept; a provider that still says the request
is too long gets the minimum (system prompt and this turn) once more.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agents.tokens import approximate_tokens
from core.config import Settings

# Longest match wins: "gpt-4o-mini" is read as "gpt-4o", "llama-3.1" before "llama".
KNOWN_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "claude": 200_000,
    "gemini": 1_000_000,
    "llama-3.1": 128_000,
    "llama-3.2": 128_000,
    "llama-3.3": 128_000,
    "llama3": 8_192,
    "qwen2.5": 32_768,
    "qwen3": 32_768,
    "mistral": 32_768,
    "phi-3": 4_096,
    "smollm2": 8_192,
    "smollm": 2_048,
}
# An unknown model gets a window every current chat model has.
DEFAULT_CONTEXT_WINDOW = 8_192
# Approximate counting can be wrong by this share; it is kept free.
MARGIN_SHARE = 0.1
# Attachments take at most this share of what a request may read.
ATTACHMENT_SHARE = 3

_CONTEXT_OVERFLOW_WORDS = re.compile(
    r"context length|context size|context window|maximum context|too many tokens|"
    r"exceeds the available context|prompt is too long",
    re.IGNORECASE,
)


def context_window(settings: Settings, model_name: str) -> int:
    """The setting when given; else the longest known family name found in the model's name."""
    if settings.llm_context_window is not None:
        return settings.llm_context_window
    name = model_name.lower()
    matches = [family for family in KNOWN_CONTEXT_WINDOWS if family in name]
    if not matches:
        return DEFAULT_CONTEXT_WINDOW
    return KNOWN_CONTEXT_WINDOWS[max(matches, key=len)]


@dataclass(frozen=True)
class ChatBudget:
    """Token shares of one chat request, derived from the window."""

    window: int
    answer: int
    tools: int

    @property
    def readable(self) -> int:
        """What the request may hold: the window less the answer's room, tools and margin."""
        margin = int(self.window * MARGIN_SHARE)
        return max(0, self.window - self.answer - self.tools - margin)

    def attachments(self, configured: int) -> int:
        return max(0, min(configured, self.readable // ATTACHMENT_SHARE))

    def history(self, configured: int, system_prompt: str) -> int:
        """Tokens left for the conversation (the current turn counts too)."""
        return max(0, min(configured, self.readable - approximate_tokens(system_prompt)))


def chat_budget(settings: Settings, model_name: str, tool_tokens: int) -> ChatBudget:
    return ChatBudget(
        window=context_window(settings, model_name),
        answer=settings.llm_chat_max_tokens,
        tools=tool_tokens,
    )


def tool_schema_tokens(tools: Sequence[BaseTool]) -> int:
    """What the tools' JSON schemas cost in every request that offers them."""
    schemas: list[dict[str, Any]] = [convert_to_openai_tool(tool) for tool in tools]
    return approximate_tokens(json.dumps(schemas))


def is_context_overflow(exc: BaseException) -> bool:
    """A provider's "the request is longer than my context" (OpenAI's code, llama.cpp's and
    vLLM's wording), as opposed to any other refusal."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    kind = error.get("type") if isinstance(error, dict) else None
    if exc.code == "context_length_exceeded" or kind == "exceed_context_size_error":
        return True
    return bool(_CONTEXT_OVERFLOW_WORDS.search(exc.message))
