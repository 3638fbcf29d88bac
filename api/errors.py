"""Every error leaves the API as `{code, message, details?}` with the matching status."""

from http import HTTPStatus
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from core.errors import (
    AppError,
    DatabaseBusyError,
    DatabaseUnavailableError,
    RetryLaterError,
    UnauthorizedError,
)

logger = structlog.get_logger(__name__)

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the bad value is, e.g. ['body', 'email'].")
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable snake_case machine code.", examples=["not_found"])
    message: str = Field(description="A sentence for humans.")
    details: Any | None = Field(default=None, description="Extra data; for 422, a FieldError list.")


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting these error statuses with the error shape."""
    return {
        status: {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers: dict[str, str] = {}
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RetryLaterError):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)


def _allowed_methods(request: Request) -> str:
    """Starlette names only the first route matching the path; the published spec knows them all."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's 400 for a body that is not even text: to clients, just malformed JSON.
        return error_response(422, "invalid_json", "The request body is not valid JSON.")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    code = _CODES_BY_STATUS.get(exc.status_code, HTTPStatus(exc.status_code).name.lower())
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, code, message, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    fields = [
        FieldError(loc=list(e.get("loc", ())), message=e.get("msg", ""), type=e.get("type", ""))
        for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        code, message = "invalid_json", "The request body is not valid JSON."
    else:
        code, message = "validation_error", "The request has invalid or missing fields."
    return error_response(422, code, message, jsonable_encoder(fields))


async def _unhandled_error(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled_error", exc_info=exc)
    # This runs outside the request-id middleware, so the header is added here.
    return error_response(
        500,
        "internal_error",
        "Something went wrong on our side; it has been logged.",
        headers={"X-Request-ID": correlation_id.get() or ""},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # asyncpg raises a refused or reset connect as the plain OSError (the model provider's and
    # Redis's clients wrap theirs), so a bare ConnectionError here is the database's.
    broken = isinstance(exc, ConnectionError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not broken:
        return await _unhandled_error(request, exc)
    logger.warning("database_unavailable", error=type(exc).__name__)
    return await _app_error(request, DatabaseUnavailableError())


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database_busy", error=type(exc).__name__)
    return await _app_error(request, DatabaseBusyError())


# Any route can meet a full connection pool (the app's, or the chat checkpointer's).
DATABASE_BUSY_RESPONSE: dict[str, Any] = {
    "model": ErrorBody,
    "description": "Service Unavailable: `database_busy` when every database connection stays "
    "taken, `database_unavailable` when the database connection broke (a restart), or an AI "
    "route's provider errors. Retry after `Retry-After` seconds.",
    "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(PoolTimeoutError, _database_busy)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
