import uuid
from collections.abc import AsyncIterator

import pytest

from core.errors import RateLimitedError
from core.rate_limit import RateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex}"
    yield name
    await RateLimiter(REDIS_URL, namespace=name).reset()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_the_hit_over_the_limit_is_refused_with_retry_after(
    backend: str, namespace: str
) -> None:
    limiter = RateLimiter(REDIS_URL if backend == "redis" else None, namespace=namespace)
    assert limiter.backend == backend
    for _ in range(3):
        await limiter.check("3/minute", "scope", "alice")
    with pytest.raises(RateLimitedError) as refused:
        await limiter.check("3/minute", "scope", "alice")
    assert 1 <= refused.value.retry_after_seconds <= 60
    # Counters are per identifier and per scope.
    await limiter.check("3/minute", "scope", "bob")
    await limiter.check("3/minute", "other-scope", "alice")


async def test_two_instances_sharing_redis_share_one_limit(namespace: str) -> None:
    first = RateLimiter(REDIS_URL, namespace=namespace)
    second = RateLimiter(REDIS_URL, namespace=namespace)
    await first.check("2/minute", "login", "carol")
    await second.check("2/minute", "login", "carol")
    with pytest.raises(RateLimitedError):
        await first.check("2/minute", "login", "carol")
    with pytest.raises(RateLimitedError):
        await second.check("2/minute", "login", "carol")


async def test_in_process_limiters_do_not_share() -> None:
    first, second = RateLimiter(None), RateLimiter(None)
    await first.check("1/minute", "login", "dan")
    await second.check("1/minute", "login", "dan")
    with pytest.raises(RateLimitedError):
        await first.check("1/minute", "login", "dan")
