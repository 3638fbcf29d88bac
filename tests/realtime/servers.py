"""Real API servers for socket tests: uvicorn on real ports, each with its own app (own event
bus, hub and connections), so two of them share only Postgres and, when set, Redis — as two
API processes would."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from api.app import create_app
from api.realtime.protocol import server_message_adapter
from core.config import Settings
from domain.embeddings.runtime import EmbeddingRuntime
from tests.fixtures.client import TEST_EMBEDDING_MODEL
from tests.fixtures.embeddings import HashingEmbedder
from tests.realtime.conftest import PASSWORD, new_email

RECEIVE_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningApi:
    app: FastAPI
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/realtime/ws"


@asynccontextmanager
async def api_server(settings: Settings) -> AsyncIterator[RunningApi]:
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws_max_size=settings.realtime_max_message_bytes * 4,
        ws_ping_interval=settings.realtime_ping_interval_seconds,
        ws_ping_timeout=settings.realtime_ping_interval_seconds,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    # Deterministic and instant; the real local model has its own integration test.
    EmbeddingRuntime(HashingEmbedder(), TEST_EMBEDDING_MODEL).attach(app.state)
    try:
        yield RunningApi(app, port)
    finally:
        server.should_exit = True
        await task


@dataclass
class Student:
    """A registered user, signed in over HTTP like a client."""

    email: str
    access_token: str
    refresh_token: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_up(api: RunningApi) -> Student:
    email = new_email()
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        registered = await http.post(
            "/auth/register", json={"email": email, "password": PASSWORD, "name": "Rt"}
        )
        assert registered.status_code == 201, registered.text
        tokens = (
            await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        ).json()
    return Student(email, tokens["access_token"], tokens["refresh_token"], registered.json()["id"])


async def ticket_for(api: RunningApi, student: Student) -> str:
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as http:
        response = await http.post("/realtime/ticket", headers=student.headers)
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next server message, checked against the published protocol schema."""
    raw = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_SECONDS)
    message: dict[str, Any] = json.loads(raw)
    server_message_adapter.validate_python(message)
    return message


async def receive_until(ws: ClientConnection, type_: str) -> list[dict[str, Any]]:
    """Messages up to and including the first of `type_`."""
    seen = []
    while True:
        message = await receive(ws)
        seen.append(message)
        if message["type"] == type_:
            return seen


@asynccontextmanager
async def open_socket(
    api: RunningApi, student: Student, topics: list[str] | None = None, **options: Any
) -> AsyncIterator[ClientConnection]:
    """A socket authenticated with a fresh ticket (and subscribed to `topics`)."""
    ticket = await ticket_for(api, student)
    async with connect(api.ws_url, **options) as ws:
        await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
        ready = await receive(ws)
        assert ready["type"] == "ready", ready
        if topics:
            await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
            assert (await receive(ws))["type"] == "subscribed"
        yield ws
