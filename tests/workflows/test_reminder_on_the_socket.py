"""A reminder's notification reaches the student's websocket live: the API (real uvicorn) starts
the workflow, the worker delivers it, and the event crosses the shared bus to the socket."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from core.config import Settings
from tests.fixtures.served import api_server
from tests.fixtures.temporal import running_worker
from tests.realtime.servers import open_socket, receive_until, sign_up


async def test_a_delivered_reminder_arrives_on_the_socket_once(
    temporal_settings: Settings, temporal_client: Client, live_db: AsyncSession
) -> None:
    # Registration over HTTP from 127.0.0.1: its per-client throttle is not under test here.
    served = temporal_settings.model_copy(update={"register_limit_per_client": "1000/hour"})
    async with api_server(served) as api, running_worker(temporal_settings, temporal_client):
        student = await sign_up(api)
        async with open_socket(api, student, ["notifications"]) as ws:
            async with httpx.AsyncClient(base_url=api.base, headers=student.headers) as http:
                remind_at = datetime.now(UTC) + timedelta(seconds=2)
                created = await http.post(
                    "/reminders",
                    json={"remind_at": remind_at.isoformat(), "message": "Flashcards"},
                )
                assert created.status_code == 201, created.text
            *_, message = await receive_until(ws, "notification")
            assert message["topic"] == "notifications"
            assert message["data"]["body"] == "Flashcards"
            assert message["data"]["reminder_id"] == created.json()["id"]
            async with httpx.AsyncClient(base_url=api.base, headers=student.headers) as http:
                listed = (await http.get("/notifications")).json()["items"]
    assert [item["id"] for item in listed] == [message["data"]["id"]]
