"""Business errors. Every one renders as `{code, message, details}` with its HTTP status."""

from typing import Any, ClassVar


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # Writes made before the error are kept (e.g. revoking a stolen token family).
    commit_on_raise: ClassVar[bool] = False

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidQueryError(AppError):
    status_code = 422
    code = "validation_error"


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    status_code = 409
    code = "conflict"


class UnauthorizedError(AppError):
    status_code = 401
    code = "unauthorized"


class InvalidCredentialsError(UnauthorizedError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for unknown email and wrong password, so accounts can't be probed.
        super().__init__("Email or password is incorrect.")


class InvalidTokenError(UnauthorizedError):
    code = "invalid_token"


class TokenReuseError(InvalidTokenError):
    code = "token_reused"
    commit_on_raise = True


class RetryLaterError(AppError):
    """Refused for now, not for good: the answer carries `Retry-After`."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, {"retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds


class RateLimitedError(RetryLaterError):
    status_code = 429
    code = "rate_limited"


class DatabaseUnavailableError(RetryLaterError):
    """The database connection broke under the request (a restart, a failover, a network cut)
    or the database refuses connections: the request did not happen; a retry will reach a fresh
    connection."""

    status_code = 503
    code = "database_unavailable"

    def __init__(self) -> None:
        super().__init__("The database is unavailable for a moment; try again.", 1)


class DatabaseBusyError(RetryLaterError):
    """Every pooled database connection stayed taken for the whole pool timeout: the request is
    refused at once with a hint to retry, rather than failing as an internal error."""

    status_code = 503
    code = "database_busy"

    def __init__(self) -> None:
        super().__init__("The service is busy; try again in a moment.", 2)


class RunInProgressError(ConflictError):
    code = "run_in_progress"


class LLMNotConfiguredError(AppError):
    status_code = 503
    code = "llm_not_configured"


class LLMUnavailableError(AppError):
    """The provider kept failing (rate limits, 5xx, timeouts) after our retries."""

    status_code = 503
    code = "llm_unavailable"


class LLMProviderError(AppError):
    """The provider refused the request or answered something we cannot use."""

    status_code = 502
    code = "llm_bad_response"
