"""The chat graph's run-time context: what one turn needs besides the thread's messages."""

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from tools.context import ToolContext


@dataclass(kw_only=True)
class ChatContext(ToolContext):
    model: BaseChatModel
    system_prompt: str
    # Older turns are trimmed to fit; the current turn is always kept whole.
    history_token_budget: int
