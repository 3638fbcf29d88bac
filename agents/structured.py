"""Structured answers from any model: constrained where the server can, repaired once where not.

Two ways to ask for a shape:
- `json_schema`: `response_format` with a strict JSON schema. OpenAI, vLLM, llama.cpp and Ollama
  constrain decoding with it, so even a small model can only produce the shape.
- `tool_calling`: the shape as the one tool the model must call; for servers without
  `response_format`, and for scripted models in tests.

Either way, an answer that does not parse or validate is sent back once with the error, and the
model asked again. A second failure raises `OutputParserException` (502 `llm_bad_response`, or
the caller's deterministic fallback).
"""

import json
from collections.abc import Sequence
from copy import deepcopy
from typing import Any, Literal, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, ValidationError

StructuredMethod = Literal["json_schema", "tool_calling"]
Shape = TypeVar("Shape", bound=BaseModel)

# The failed answer is quoted back this far: enough to see the mistake, not a second prompt.
MAX_QUOTED_ANSWER_CHARS = 2_000


def structured_method(model: BaseChatModel, preferred: StructuredMethod) -> StructuredMethod:
    """`preferred` for OpenAI-compatible clients; other chat models (scripted ones) call tools."""
    return preferred if isinstance(model, ChatOpenAI) else "tool_calling"


async def structured_answer(
    model: BaseChatModel,
    schema: type[Shape],
    messages: Sequence[BaseMessage],
    method: StructuredMethod,
) -> Shape:
    """`schema` filled in by the model, after at most one repair round."""
    bound = _bind(model, schema, method)
    answer = await bound.ainvoke(list(messages))
    try:
        return _parse(answer, schema, method)
    except OutputParserException as first:
        repair = HumanMessage(
            "Your previous answer could not be used: "
            f"{first}\nIt was:\n{_quoted(answer)[:MAX_QUOTED_ANSWER_CHARS]}\n"
            "Answer again with exactly the requested structure and nothing else."
        )
        retried = await bound.ainvoke([*messages, repair])
        return _parse(retried, schema, method)


def strict_json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema as strict mode wants it: every object closed, every property
    required (optional ones stay nullable), no defaults."""
    result = deepcopy(schema.model_json_schema())
    _make_strict(result)
    return result


def _make_strict(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("default", None)
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _make_strict(value)
    elif isinstance(node, list):
        for item in node:
            _make_strict(item)


def _bind(model: BaseChatModel, schema: type[BaseModel], method: StructuredMethod) -> Any:
    name = schema.__name__
    if method == "json_schema":
        return model.bind(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": name,
                    "description": (schema.__doc__ or name).strip(),
                    "strict": True,
                    "schema": strict_json_schema(schema),
                },
            }
        )
    return model.bind_tools([schema], tool_choice=name)


def _parse(answer: Any, schema: type[Shape], method: StructuredMethod) -> Shape:
    if not isinstance(answer, AIMessage):
        raise OutputParserException("The model gave no message.")
    try:
        if method == "json_schema":
            text = answer.text.strip()
            if not text:
                raise OutputParserException("The answer was empty.")
            return schema.model_validate_json(text)
        calls = [call for call in answer.tool_calls if call["name"] == schema.__name__]
        if calls:
            return schema.model_validate(calls[0]["args"])
        if answer.invalid_tool_calls:
            bad = answer.invalid_tool_calls[0]
            raise OutputParserException(
                f"The arguments of {bad.get('name')} were not valid JSON: {bad.get('error')}"
            )
        raise OutputParserException(f"The answer did not call {schema.__name__}.")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'answer'}: {error['msg']}"
            for error in exc.errors()[:10]
        )
        raise OutputParserException(f"It did not match the structure: {problems}") from exc


def _quoted(answer: Any) -> str:
    if not isinstance(answer, AIMessage):
        return ""
    if answer.tool_calls:
        return json.dumps([call["args"] for call in answer.tool_calls], ensure_ascii=False)
    if answer.invalid_tool_calls:
        return str(answer.invalid_tool_calls[0].get("args") or "")
    return answer.text
