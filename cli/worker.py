"""`studypilot worker`: one Temporal worker until SIGTERM/SIGINT, then a graceful stop."""

import asyncio
import os
import signal
import sys

from core.config import Settings
from workflows.worker import run_worker


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop)


def run(settings: Settings) -> None:
    asyncio.run(_serve(settings))
    # The Temporal SDK's native runtime can abort at interpreter exit (exit 134/139) after a
    # clean stop; leave without running that teardown so a clean stop exits 0.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
