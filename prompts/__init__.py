"""Prompt files, versioned side by side (`prompts/<name>/v<N>.md`), and their one loader."""

from prompts.loader import (
    Prompt,
    PromptNotFoundError,
    available_versions,
    load_prompt,
    load_prompt_file,
    pinned_prompts,
)

__all__ = [
    "Prompt",
    "PromptNotFoundError",
    "available_versions",
    "load_prompt",
    "load_prompt_file",
    "pinned_prompts",
]
