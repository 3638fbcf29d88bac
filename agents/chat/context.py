"""The chat graph's run-time context: what one turn needs besides the thread's messages."""

from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel

from tools.context import ToolContext


@dataclass(kw_only=True)
class ChatContext(ToolContext):
    model: BaseChatModel
    system_prompt: str
    # Older turns are trimmed to fit; the current turn is always kept whole.
    history_token_budget: int
    # The event loop's clock time by which the turn must have its answer (None: no deadline).
    deadline: float | None = None
    deadline_seconds: float = 0.0
    # "required" makes the first model step of a turn call a tool: small models otherwise
    # answer from nothing instead of looking anything up.
    first_step_tool_choice: Literal["auto", "required"] = "auto"
