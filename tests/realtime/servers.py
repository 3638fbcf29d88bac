"""Signed-in students and authenticated sockets against real API servers
(`tests.fixtures.served`), for the websocket tests."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from api.realtime.protocol import server_message_adapter
from tests.fixtures.served import RunningApi
from tests.realtime.conftest import PASSWORD, new_email

RECEIVE_TIMEOUT_SECONDS = 10.0


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
