"""Base for request bodies: unknown fields and NUL characters are refused with a 422."""

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        # Postgres text cannot hold NUL: refused here it is a 422, not a failed write.
        if contains_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data
