import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, within: float = 15.0, interval: float = 0.05
) -> T:
    """`probe()`'s first truthy answer; fails when none comes within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer within {within}s (last: {value!r})")
        await asyncio.sleep(interval)
