"""How the HTTP server treats websocket frames: one set of options for `studypilot serve` and
every test server, so tests meet the sockets production has."""

from typing import Any

from core.config import Settings


def websocket_server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's `ws_*` options."""
    return {
        # Frames past this close the socket (1009); the app refuses smaller messages over its
        # own limit with an error and keeps the socket.
        "ws_max_size": settings.realtime_max_message_bytes * 4,
        # A peer that does not answer a ping within the interval is dropped.
        "ws_ping_interval": settings.realtime_ping_interval_seconds,
        "ws_ping_timeout": settings.realtime_ping_interval_seconds,
        # permessage-deflate keeps a zlib context per socket: about 36 KiB of the server's
        # memory for each of thousands of idle sockets, to shrink messages of a few hundred
        # bytes (bench/RESULTS.md, realtime).
        "ws_per_message_deflate": False,
    }
