"""The published OpenAPI document: stable operation ids and a deterministic export.

Operation ids become the method names of generated clients (`authRegister`, `notesCreateNote`):
renaming a route's function is a breaking change for them, which the committed
`openapi/openapi.json` and its staleness test make visible in review.
"""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute


def _camel(words: list[str]) -> str:
    return words[0] + "".join(word.capitalize() for word in words[1:])


def operation_id(route: APIRoute) -> str:
    """`<tag><FunctionName>` in camelCase; a function name that repeats the tag drops it
    (`ai_status` under `ai` is `aiStatus`, `health` under `health` is `health`)."""
    tag = str(route.tags[0]) if route.tags else "api"
    words = route.name.split("_")
    if words[0] == tag:
        words = words[1:]
    return _camel([tag, *words])


def openapi_document(app: FastAPI) -> str:
    """The spec as committed: indented, key order as FastAPI emits it, one trailing newline."""
    spec: dict[str, Any] = app.openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
