import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client
from temporalio.service import RPCError

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


async def trigger_when_made(client: Client, schedule_id: str) -> None:
    """Run the Schedule now, once the worker starting in the background has made it."""
    handle = client.get_schedule_handle(schedule_id)

    async def made() -> bool:
        try:
            await handle.describe()
        except RPCError:
            return False
        return True

    await eventually(made)
    await handle.trigger()
