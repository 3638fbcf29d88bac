"""Password hashing (Argon2) and JWTs (HS256, algorithm pinned)."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from core.config import Settings
from core.errors import InvalidTokenError

TokenType = Literal["access", "refresh"]
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "studypilot"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti", "type", "iss"]

_password_hash = PasswordHash((Argon2Hasher(),))
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _password_hash.hash("studypilot-timing-equaliser")


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Return (valid, new_hash); new_hash is set when the stored hash's parameters are outdated."""
    if password_hash is None:
        _password_hash.verify(password, _DUMMY_HASH)
        return False, None
    return _password_hash.verify_and_update(password, password_hash)


# Argon2 costs ~100 ms of CPU by design: on the event loop it would stall every other request.
async def hash_password_in_thread(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, password)


async def verify_password_in_thread(
    password: str, password_hash: str | None
) -> tuple[bool, str | None]:
    return await anyio.to_thread.run_sync(verify_password, password, password_hash)


def hash_token(token: str) -> str:
    """Refresh tokens are stored only as this digest; they are random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    subject: uuid.UUID
    token_id: uuid.UUID
    token_type: TokenType
    issued_at: datetime
    expires_at: datetime
    family_id: uuid.UUID | None = None


class TokenCodec:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret.get_secret_value()
        self._ttl: dict[TokenType, timedelta] = {
            "access": timedelta(seconds=settings.access_token_ttl_seconds),
            "refresh": timedelta(seconds=settings.refresh_token_ttl_seconds),
        }

    def ttl(self, token_type: TokenType) -> timedelta:
        return self._ttl[token_type]

    def issue(
        self,
        subject: uuid.UUID,
        token_type: TokenType,
        *,
        token_id: uuid.UUID | None = None,
        family_id: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> tuple[str, TokenClaims]:
        issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
        claims = TokenClaims(
            subject=subject,
            token_id=token_id or uuid.uuid4(),
            token_type=token_type,
            issued_at=issued_at,
            expires_at=issued_at + self._ttl[token_type],
            family_id=family_id,
        )
        payload: dict[str, object] = {
            "sub": str(claims.subject),
            "jti": str(claims.token_id),
            "type": token_type,
            "iss": JWT_ISSUER,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        if family_id is not None:
            payload["fam"] = str(family_id)
        return jwt.encode(payload, self._secret, algorithm=JWT_ALGORITHM), claims

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                issuer=JWT_ISSUER,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("The token is invalid.") from exc
        if payload.get("type") != expected_type:
            raise InvalidTokenError(f"An {expected_type} token is required.")
        try:
            return TokenClaims(
                subject=uuid.UUID(payload["sub"]),
                token_id=uuid.UUID(payload["jti"]),
                token_type=expected_type,
                issued_at=datetime.fromtimestamp(payload["iat"], UTC),
                expires_at=datetime.fromtimestamp(payload["exp"], UTC),
                family_id=uuid.UUID(payload["fam"]) if "fam" in payload else None,
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidTokenError("The token is invalid.") from exc
