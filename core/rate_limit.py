"""One rate limiter for the whole app: Redis when `REDIS_URL` is set, in-process otherwise.

Both run the `limits` library's moving-window strategy; on Redis it is a single atomic Lua call,
so a limit holds across every API instance sharing that Redis.
"""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as Strategy,
)
from limits.storage import storage_from_string

from core.errors import RateLimitedError
from core.metrics import RATE_LIMIT_REJECTIONS


def _storage_uri(redis_url: str | None) -> str:
    if redis_url is None:
        return "async+memory://"
    # limits selects its asyncio Redis client by the scheme prefix.
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class RateLimiter:
    def __init__(self, redis_url: str | None, namespace: str = "studypilot") -> None:
        storage = storage_from_string(_storage_uri(redis_url), key_prefix=f"{namespace}:rl")
        assert isinstance(storage, Storage)  # the async+ scheme yields an asyncio storage
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(self._storage)
        # Budgets (tokens per day) are spent after the fact, in amounts known only then; a
        # fixed window counts an overdraft instead of refusing it, which is what spending needs.
        self._budgets = FixedWindowRateLimiter(self._storage)
        self.backend = "redis" if redis_url else "memory"

    async def check(self, limit: str | RateLimitItem, scope: str, *identifiers: str) -> None:
        """Count one hit against `limit` for these identifiers; raise 429 when over it."""
        item = parse(limit) if isinstance(limit, str) else limit
        if await self._strategy.hit(item, scope, *identifiers):
            return
        await self._refuse(self._strategy, item, scope, *identifiers)

    async def ensure_budget_left(
        self, budget: RateLimitItem, scope: str, *identifiers: str
    ) -> None:
        """Raise 429 when the budget's window is already spent; spends nothing."""
        if not await self._budgets.test(budget, scope, *identifiers):
            await self._refuse(self._budgets, budget, scope, *identifiers)

    async def spend(
        self, budget: RateLimitItem, scope: str, *identifiers: str, amount: int
    ) -> None:
        """Take `amount` from the budget, even past its end: the work is already done."""
        if amount > 0:
            await self._budgets.hit(budget, scope, *identifiers, cost=amount)

    async def _refuse(
        self, strategy: Strategy, item: RateLimitItem, scope: str, *identifiers: str
    ) -> None:
        RATE_LIMIT_REJECTIONS.labels(scope).inc()
        stats = await strategy.get_window_stats(item, scope, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimitedError("Too many requests; try again later.", retry_after)

    async def is_healthy(self) -> bool:
        return bool(await self._storage.check())

    async def reset(self) -> None:
        await self._storage.reset()
