from fastapi import APIRouter, Request, status

from api.deps import AuthServiceDep, CurrentUser, RateLimiterDep, SessionDep, SettingsDep
from api.errors import error_responses
from domain.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from domain.users.schemas import UserRead
from domain.users.service import UserService, normalise_email

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str:
    """The caller's address: the peer, or what a trusted proxy says it is (see `api.proxies`)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409, 422, 429),
)
async def register(
    body: RegisterRequest,
    request: Request,
    session: SessionDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> UserRead:
    # Each registration costs an Argon2 hash and a row: limited per client like login.
    await limiter.check(
        settings.register_limit_per_client, "register:client", client_address(request)
    )
    user = await UserService(session).register(body.email, body.password, body.name)
    return UserRead.model_validate(user)


@router.post("/login", response_model=TokenPair, responses=error_responses(401, 422, 429))
async def login(
    body: LoginRequest,
    request: Request,
    auth: AuthServiceDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> TokenPair:
    await limiter.check(settings.login_limit_per_client, "login:client", client_address(request))
    await limiter.check(settings.login_limit_per_email, "login:email", normalise_email(body.email))
    return await auth.login(body.email, body.password)


@router.post("/refresh", response_model=TokenPair, responses=error_responses(401, 422))
async def refresh(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    return await auth.refresh(body.refresh_token)


@router.get("/me", response_model=UserRead, responses=error_responses(401))
async def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 422),
    summary="Revoke the refresh token's whole family (this sign-in on every device it reached)",
)
async def logout(body: RefreshRequest, user: CurrentUser, auth: AuthServiceDep) -> None:
    await auth.logout(user, body.refresh_token)
