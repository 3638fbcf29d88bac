"""ASGI middleware: an access log line per request with its request id, user id and timing, and
the request's Prometheus figures by route template."""

import time

import structlog
from asgi_correlation_id import correlation_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import HTTP_DURATION, HTTP_REQUESTS

logger = structlog.get_logger("studypilot.access")


class AccessLogMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so the user id set by auth in `scope.state` is visible."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every log line of this request carries its id; nothing carries over from another.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=correlation_id.get())
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = time.perf_counter() - started
            user_id = scope.get("state", {}).get("user_id")
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(elapsed)
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                user_id=str(user_id) if user_id else None,
            )


def _route_template(scope: Scope) -> str:
    """The matched route's template (`/api/v1/notes/{note_id}`), never the raw path, so a
    metric's label values stay few; requests that matched no route share one value."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if not isinstance(template, str) or pattern is None:
        return "unmatched"
    # A route knows its own router's prefix, not the prefixes it was included under: those are
    # the part of the path before where its pattern matches.
    path: str = scope["path"]
    start = 0
    while start != -1:
        if pattern.fullmatch(path[start:]):
            return path[:start] + template
        start = path.find("/", start + 1)
    return template
