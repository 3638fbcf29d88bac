"""Prompt files, versioned side by side (`prompts/<name>/v<N>.md`), and their one loader."""

from prompts.loader import Prompt, PromptNotFoundError, load_prompt

__all__ = ["Prompt", "PromptNotFoundError", "load_prompt"]
