"""Request dependencies as `Annotated` aliases: `SessionDep`, `CurrentUser`, ..."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from core.after_commit import discard_deferred, run_deferred
from core.config import Settings
from core.errors import AppError, InvalidQueryError, UnauthorizedError
from core.events import discard_queued_events, publish_queued_events
from core.rate_limit import RateLimiter
from core.security import TokenCodec
from domain.auth.service import AuthService
from domain.users.models import User


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the handler succeeds, rolled back otherwise.

    Work registered with `after_unit_of_work` runs once it has ended either way.
    """
    try:
        async with request.app.state.sessionmaker() as session:
            try:
                yield session
            except AppError as exc:
                if exc.commit_on_raise:
                    await session.commit()
                    await publish_queued_events(session)
                    await run_deferred(session)
                else:
                    await session.rollback()
                    discard_queued_events(session)
                    discard_deferred(session)
                raise
            except BaseException:
                await session.rollback()
                discard_queued_events(session)
                discard_deferred(session)
                raise
            else:
                await session.commit()
                await publish_queued_events(session)
                await run_deferred(session)
    finally:
        request.state.unit_of_work_ended = True
        for job in getattr(request.state, "after_unit_of_work", []):
            await job()


async def release_connection(session: AsyncSession) -> None:
    """End the request's transaction so far and hand its pooled connection back, before a wait
    on a model: a slow model must not hold connections every other request needs. What was read
    stays usable (no expiry on commit); the next statement begins a new transaction, which the
    unit of work commits or rolls back as usual. Only reads may precede this: a write here would
    be kept even if the request later fails."""
    await session.commit()


def after_unit_of_work(request: Request, job: Callable[[], Awaitable[None]]) -> bool:
    """Queue `job` to run after the request's unit of work, whatever its outcome: a record of a
    failure must not be rolled back with the work that failed. False when that unit has already
    ended (a streamed response runs after it): the caller runs the job itself."""
    if getattr(request.state, "unit_of_work_ended", False):
        return False
    if not hasattr(request.state, "after_unit_of_work"):
        request.state.after_unit_of_work = []
    request.state.after_unit_of_work.append(job)
    return True


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_token_codec(request: Request) -> TokenCodec:
    codec: TokenCodec = request.app.state.token_codec
    return codec


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


# Dependencies are `async def` even when they never await: FastAPI runs plain `def` ones in its
# thread pool, a hop per dependency per request.
# "function" scope: the commit runs before the response is sent, so a failed commit is a 500
# and never a success the database did not keep.
SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenCodecDep = Annotated[TokenCodec, Depends(get_token_codec)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]

_bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login.")


async def get_auth_service(
    session: SessionDep, codec: TokenCodecDep, settings: SettingsDep
) -> AuthService:
    return AuthService(
        session, codec, reuse_grace=timedelta(seconds=settings.refresh_reuse_grace_seconds)
    )


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_current_user(
    request: Request,
    auth: AuthServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise UnauthorizedError("A bearer access token is required.")
    user = await auth.authenticate(credentials.credentials)
    request.state.user_id = user.id
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_user_id(
    request: Request,
    codec: TokenCodecDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> uuid.UUID:
    """The caller's id from a valid access token, without reading the user row (a round trip
    and two statements fewer): for routes whose queries are scoped by that id and need nothing
    else of the user. Revocation is the same as `CurrentUser`'s, since access tokens are not
    revoked before they expire; only a token whose user row was deleted still passes here, for
    the rest of its lifetime, and finds nothing, the user's rows having gone with it."""
    if credentials is None:
        raise UnauthorizedError("A bearer access token is required.")
    user_id = codec.decode(credentials.credentials, "access").subject
    request.state.user_id = user_id
    structlog.contextvars.bind_contextvars(user_id=str(user_id))
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def refuse_nul_in_query(request: Request) -> None:
    """Postgres text cannot hold NUL; a query parameter carrying one is a 422, not a 500."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidQueryError(
                "Query parameters must not contain NUL characters.",
                [
                    {
                        "loc": ["query", name.replace("\x00", "")],
                        "message": "contains NUL",
                        "type": "nul",
                    }
                ],
            )
