"""`GET /metrics`: Prometheus exposition, for operators only.

With STUDYPILOT_METRICS_TOKEN set, a scraper sends it as a bearer token (Prometheus'
`authorization: {credentials: ...}`); unset, only loopback clients (a sidecar, an SSH tunnel)
are answered. Behind a proxy, the client is the one STUDYPILOT_TRUSTED_PROXIES vouch for.
"""

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from api.deps import SettingsDep
from core.errors import AppError, UnauthorizedError

router = APIRouter()


class MetricsForbiddenError(AppError):
    status_code = 403
    code = "forbidden"


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
        supplied = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(supplied, expected):
            raise UnauthorizedError("/metrics needs the bearer token STUDYPILOT_METRICS_TOKEN.")
    elif not _is_loopback(request.client.host if request.client else None):
        raise MetricsForbiddenError(
            "/metrics answers loopback clients only; set STUDYPILOT_METRICS_TOKEN to scrape it "
            "from elsewhere."
        )
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
