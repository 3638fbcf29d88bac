"""Login, rotating refresh tokens with family-based reuse detection, logout."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidCredentialsError, InvalidTokenError, TokenReuseError
from core.security import TokenCodec, hash_token, verify_password_in_thread
from domain.auth.models import RefreshToken
from domain.auth.repository import RefreshTokenRepository
from domain.auth.schemas import TokenPair
from domain.users.models import User
from domain.users.repository import UserRepository
from domain.users.service import normalise_email


class AuthService:
    def __init__(
        self,
        session: AsyncSession,
        tokens: TokenCodec,
        reuse_grace: timedelta = timedelta(0),
    ) -> None:
        """`reuse_grace`: how long a just-rotated refresh token still yields its successor."""
        self.session = session
        self.codec = tokens
        self.reuse_grace = reuse_grace
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)

    async def login(self, email: str, password: str) -> TokenPair:
        user = await self.users.get_by_email(normalise_email(email))
        valid, new_hash = await verify_password_in_thread(
            password, user.password_hash if user else None
        )
        if user is None or not valid:
            raise InvalidCredentialsError()
        if new_hash is not None:
            user.password_hash = new_hash
        pair, _ = await self._issue_pair(user.id, family_id=uuid.uuid4())
        return pair

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self.codec.decode(refresh_token, "refresh")
        stored = await self.refresh_tokens.get_for_update(claims.token_id)
        if stored is None or stored.token_hash != hash_token(refresh_token):
            raise InvalidTokenError("The refresh token is not recognised.")
        now = datetime.now(UTC)
        if stored.revoked_at is not None:
            raise InvalidTokenError("The refresh token has been revoked.")
        if stored.used_at is not None:
            # Two tabs (or a client's retry) present one token at once: the row lock queued the
            # second behind the first, which rotated it; within the grace window it gets the
            # same successor instead of ending the session.
            if now - stored.used_at <= self.reuse_grace:
                successor = await self._reissue_successor(stored)
                if successor is not None:
                    return successor
            # A rotated token came back: someone holds a copy. End the whole session family.
            await self.refresh_tokens.revoke_family(stored.family_id, now)
            raise TokenReuseError("The refresh token was already used; please sign in again.")
        if stored.expires_at <= now:
            raise InvalidTokenError("The refresh token has expired.")
        user = await self.users.get(stored.user_id)
        if user is None:
            raise InvalidTokenError("The refresh token is not recognised.")
        stored.used_at = now
        pair, successor_id = await self._issue_pair(user.id, family_id=stored.family_id)
        stored.replaced_by_id = successor_id
        return pair

    async def logout(self, user: User, refresh_token: str) -> None:
        claims = self.codec.decode(refresh_token, "refresh")
        stored = await self.refresh_tokens.get_for_update(claims.token_id)
        if (
            stored is None
            or stored.user_id != user.id
            or stored.token_hash != hash_token(refresh_token)
        ):
            raise InvalidTokenError("The refresh token is not recognised.")
        await self.refresh_tokens.revoke_family(stored.family_id, datetime.now(UTC))

    async def authenticate(self, access_token: str) -> User:
        claims = self.codec.decode(access_token, "access")
        user = await self.users.get(claims.subject)
        if user is None:
            raise InvalidTokenError("The token's user no longer exists.")
        return user

    async def _reissue_successor(self, stored: RefreshToken) -> TokenPair | None:
        """The pair that rotated `stored`, with the very refresh token it carried (HS256 tokens
        are deterministic: same claims, same token), and a fresh access token. None when there
        is no live successor to hand out (it was revoked, or issued under other settings)."""
        if stored.replaced_by_id is None:
            return None
        successor = await self.refresh_tokens.get(stored.replaced_by_id)
        if successor is None or successor.revoked_at is not None:
            return None
        refresh, _ = self.codec.issue(
            successor.user_id,
            "refresh",
            token_id=successor.id,
            family_id=successor.family_id,
            now=successor.expires_at - self.codec.ttl("refresh"),
        )
        if hash_token(refresh) != successor.token_hash:
            return None
        return self._pair(successor.user_id, successor.family_id, refresh)

    async def _issue_pair(
        self, user_id: uuid.UUID, family_id: uuid.UUID
    ) -> tuple[TokenPair, uuid.UUID]:
        """A new access token and a new refresh token in `family_id`; the latter's id too."""
        refresh, refresh_claims = self.codec.issue(user_id, "refresh", family_id=family_id)
        await self.refresh_tokens.add(
            RefreshToken(
                id=refresh_claims.token_id,
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_token(refresh),
                expires_at=refresh_claims.expires_at,
            )
        )
        return self._pair(user_id, family_id, refresh), refresh_claims.token_id

    def _pair(self, user_id: uuid.UUID, family_id: uuid.UUID, refresh: str) -> TokenPair:
        # The access token names its sign-in, so a websocket opened with it ends with it.
        access, _ = self.codec.issue(user_id, "access", family_id=family_id)
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=int(self.codec.ttl("access").total_seconds()),
        )
