"""`POST /realtime/ticket`, `GET /realtime/schema` and the websocket `GET /realtime/ws`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.datastructures import State

from api.deps import CurrentUser, TokenCodecDep
from api.errors import error_responses
from api.realtime.connection import Connection
from api.realtime.protocol import protocol_schema
from core.config import Settings
from core.errors import InvalidTokenError
from domain.realtime.tickets import (
    PostgresTicketStore,
    RedisTicketStore,
    TicketGrant,
    TicketStore,
)

router = APIRouter(prefix="/realtime", tags=["realtime"])
# Websocket routes take no HTTP dependencies (the API router's query checks need a Request).
socket_router = APIRouter(prefix="/realtime", tags=["realtime"])
_bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login.")


class TicketRead(BaseModel):
    ticket: str = Field(description='Send `{"type": "auth", "ticket": ...}` as the first message.')
    expires_in: int = Field(description="Seconds the ticket stays valid; it redeems once.")


def ticket_store(state: State) -> TicketStore:
    settings: Settings = state.settings
    if settings.redis_url is not None:
        return RedisTicketStore(state.realtime_redis, settings.realtime_ticket_ttl_seconds)
    return PostgresTicketStore(state.sessionmaker, settings.realtime_ticket_ttl_seconds)


@router.post("/ticket", response_model=TicketRead, responses=error_responses(401))
async def issue_ticket(
    request: Request,
    user: CurrentUser,
    codec: TokenCodecDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TicketRead:
    """A one-use ticket for opening `/realtime/ws`, valid for 30 s (no token in the URL). The
    socket lives as long as this sign-in: logging out closes it (4401) within a minute."""
    assert credentials is not None  # CurrentUser has required it
    family_id = codec.decode(credentials.credentials, "access").family_id
    if family_id is None:
        raise InvalidTokenError("This access token predates realtime access; sign in again.")
    store = ticket_store(request.app.state)
    ticket = await store.issue(TicketGrant(user.id, family_id))
    return TicketRead(ticket=ticket, expires_in=store.ttl_seconds)


@router.get(
    "/schema",
    response_model=dict[str, Any],
    responses={200: {"description": "A JSON Schema (2020-12) of every websocket message."}},
)
async def realtime_schema() -> dict[str, Any]:
    """The websocket protocol as JSON Schema, generated from the server's own models:
    `$defs/ClientMessage` and `$defs/ServerMessage`, discriminated by `type`."""
    return protocol_schema()


@socket_router.websocket("/ws")
async def realtime_socket(websocket: WebSocket) -> None:
    """Chat tokens, progress, plans and notifications; see docs/realtime.md."""
    state = websocket.app.state
    settings: Settings = state.settings
    origin = websocket.headers.get("origin")
    # Browsers do not apply CORS to websockets: a page from any site could open one.
    if origin is not None and not _origin_allowed(origin, settings.cors_origins):
        await websocket.close(code=1008)  # before accept: the handshake answers 403
        return
    await Connection(websocket, state, ticket_store(state), state.realtime_hub).serve()


def _origin_allowed(origin: str, allowed: list[str]) -> bool:
    return "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}
