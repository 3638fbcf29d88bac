from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from core.schemas import StrictModel
from domain.users.schemas import DisplayName, Password


class RegisterRequest(StrictModel):
    email: EmailStr
    password: Password
    name: DisplayName | None = None


class LoginRequest(StrictModel):
    email: EmailStr
    # No length rule on login: a wrong password is a 401, not a hint about the policy.
    password: str = Field(max_length=1024)


class RefreshRequest(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
