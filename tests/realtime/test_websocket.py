"""The websocket against two real API servers (uvicorn, real ports, real sockets) sharing
Postgres and — with the `redis` backend — Redis; every test runs over both event buses."""

import asyncio
import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.realtime.protocol import CloseCode
from core.config import Settings
from core.events import Event, EventBus
from tests.fixtures.client import TEST_SECRET
from tests.fixtures.llm import scripted
from tests.fixtures.served import RunningApi, api_server
from tests.realtime.conftest import REDIS_URL
from tests.realtime.servers import (
    Student,
    open_socket,
    receive,
    receive_until,
    sign_up,
    ticket_for,
)

ALLOWED_ORIGIN = "https://app.example"
HISTORY = 50
QUEUE = 64
CONNECTION_CAP = 4
SEND_TIMEOUT_SECONDS = 2.0


@dataclass
class Pair:
    a: RunningApi
    b: RunningApi

    @property
    def bus_a(self) -> EventBus:
        bus: EventBus = self.a.app.state.event_bus
        return bus


@pytest.fixture(scope="module", params=["redis", "postgres"])
async def pair(request: pytest.FixtureRequest, realtime_database_url: str) -> AsyncIterator[Pair]:
    settings = Settings(
        env="test",
        database_url=realtime_database_url,
        redis_url=REDIS_URL if request.param == "redis" else None,
        jwt_secret=TEST_SECRET,
        embedding_warm_up=False,
        cors_origins=[ALLOWED_ORIGIN],
        realtime_history_events=HISTORY,
        realtime_subscriber_queue=QUEUE,
        realtime_connections_per_user=CONNECTION_CAP,
        realtime_auth_timeout_seconds=1.0,
        realtime_session_check_seconds=0.5,
        realtime_send_timeout_seconds=SEND_TIMEOUT_SECONDS,
        realtime_ticket_ttl_seconds=2,
        realtime_max_message_bytes=4096,
        # Every test registers its users from 127.0.0.1: the per-client throttle is not under test.
        register_limit_per_client="100000/hour",
    )
    async with api_server(settings) as a, api_server(settings) as b:
        yield Pair(a, b)


def _send(message: dict[str, object]) -> str:
    return json.dumps(message)


async def _close_code(ws: object, numbers: list[int] | None = None) -> int | None:
    """Read until the server closes; its close code. Messages carrying `data.n` add it to
    `numbers`."""
    try:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[attr-defined]
            if numbers is not None:
                numbers.append(message["data"]["n"])
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_an_event_published_on_one_instance_reaches_a_socket_on_the_other(
    pair: Pair,
) -> None:
    student = await sign_up(pair.a)
    async with open_socket(pair.b, student, ["notifications"]) as ws:
        user_id = uuid.UUID(student.user_id)
        [event_id] = await pair.bus_a.publish(
            [Event(user_id, "notifications", "notification", {"title": "Revise algebra"})]
        )
        message = await receive(ws)
    assert message["type"] == "notification"
    assert message["id"] == event_id
    assert message["topic"] == "notifications"
    assert message["data"] == {"title": "Revise algebra"}


async def test_progress_recorded_on_one_instance_shows_on_a_socket_on_the_other(
    pair: Pair,
) -> None:
    student = await sign_up(pair.a)
    async with httpx.AsyncClient(base_url=pair.a.base, headers=student.headers) as http:
        goal = (await http.post("/goals", json={"title": "Algebra", "target_minutes": 100})).json()
        async with open_socket(pair.b, student, ["progress"]) as ws:
            recorded = await http.post(f"/goals/{goal['id']}/progress", json={"minutes": 25})
            assert recorded.status_code == 201, recorded.text
            message = await receive(ws)
    assert message["type"] == "progress.updated"
    assert message["data"]["goal_id"] == goal["id"]
    assert message["data"]["progress"]["percent"] == 25.0
    assert message["data"]["event"]["id"] == recorded.json()["event"]["id"]


async def test_only_subscribed_topics_arrive(pair: Pair) -> None:
    student = await sign_up(pair.a)
    user_id = uuid.UUID(student.user_id)
    async with open_socket(pair.a, student, ["plans"]) as ws:
        await pair.bus_a.publish(
            [
                Event(user_id, "notifications", "notification", {"n": 1}),
                Event(user_id, "plans", "plan.updated", {"n": 2}),
            ]
        )
        message = await receive(ws)
        assert (message["type"], message["data"]) == ("plan.updated", {"n": 2})
        await ws.send(_send({"type": "unsubscribe", "topics": ["plans"]}))
        assert (await receive(ws))["topics"] == []
        await pair.bus_a.publish([Event(user_id, "plans", "plan.updated", {"n": 3})])
        await ws.send(_send({"type": "ping", "request_id": "p"}))
        assert (await receive(ws))["type"] == "pong"


# --- auth -----------------------------------------------------------------------------------


async def test_a_socket_without_auth_in_time_is_closed_4401(pair: Pair) -> None:
    async with connect(pair.a.ws_url) as ws:
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED


async def test_anything_but_auth_first_is_closed_4401(pair: Pair) -> None:
    async with connect(pair.a.ws_url) as ws:
        await ws.send(_send({"type": "ping"}))
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED


async def test_an_unknown_reused_or_expired_ticket_is_closed_4401(pair: Pair) -> None:
    student = await sign_up(pair.a)
    async with connect(pair.a.ws_url) as ws:
        await ws.send(_send({"type": "auth", "ticket": "not-a-ticket"}))
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED

    ticket = await ticket_for(pair.a, student)
    async with connect(pair.b.ws_url) as ws:
        await ws.send(_send({"type": "auth", "ticket": ticket}))
        assert (await receive(ws))["type"] == "ready"
    # Used once, on the other instance: refused here.
    async with connect(pair.a.ws_url) as ws:
        await ws.send(_send({"type": "auth", "ticket": ticket}))
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED

    stale = await ticket_for(pair.a, student)
    await asyncio.sleep(2.5)
    async with connect(pair.a.ws_url) as ws:
        await ws.send(_send({"type": "auth", "ticket": stale}))
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED


async def test_a_ticket_needs_a_bearer_token(pair: Pair) -> None:
    async with httpx.AsyncClient(base_url=pair.a.base) as http:
        response = await http.post("/realtime/ticket")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_logout_closes_the_sessions_sockets_4401(pair: Pair) -> None:
    student = await sign_up(pair.a)
    async with open_socket(pair.b, student) as ws:
        async with httpx.AsyncClient(base_url=pair.a.base, headers=student.headers) as http:
            out = await http.post("/auth/logout", json={"refresh_token": student.refresh_token})
            assert out.status_code == 204, out.text
        assert await _close_code(ws) == CloseCode.UNAUTHORIZED


async def test_a_foreign_origin_is_refused_at_the_handshake(pair: Pair) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(pair.a.ws_url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    student = await sign_up(pair.a)
    async with open_socket(pair.a, student, origin=ALLOWED_ORIGIN) as ws:
        await ws.send(_send({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"


async def test_connections_past_the_per_user_cap_are_closed_4429(pair: Pair) -> None:
    student = await sign_up(pair.a)
    sockets = [open_socket(pair.a, student) for _ in range(CONNECTION_CAP)]
    opened = [await s.__aenter__() for s in sockets]
    try:
        async with connect(pair.a.ws_url) as extra:
            await extra.send(_send({"type": "auth", "ticket": await ticket_for(pair.a, student)}))
            assert await _close_code(extra) == CloseCode.TOO_MANY_CONNECTIONS
    finally:
        for s in sockets:
            await s.__aexit__(None, None, None)
    assert len(opened) == CONNECTION_CAP


# --- scoping --------------------------------------------------------------------------------


async def _conversation_of(api: RunningApi, student: Student) -> str:
    api.app.state.chat_models.with_model("chat", scripted("Hello."))
    async with httpx.AsyncClient(base_url=api.base, headers=student.headers, timeout=30) as http:
        reply = await http.post("/ai/chat", json={"message": "Hi"})
    assert reply.status_code == 200, reply.text
    conversation_id: str = reply.json()["conversation_id"]
    return conversation_id


async def test_another_users_conversation_is_not_found_and_nothing_leaks(pair: Pair) -> None:
    alice, mallory = await sign_up(pair.a), await sign_up(pair.a)
    conversation = await _conversation_of(pair.a, alice)
    await pair.bus_a.publish(
        [Event(uuid.UUID(alice.user_id), f"conversation:{conversation}", "chat.token", {"x": 1})]
    )
    # A model is configured, so the refusal is about the conversation and nothing else.
    pair.b.app.state.chat_models.with_model("chat", scripted("Never said."))
    async with open_socket(pair.b, mallory) as ws:
        await ws.send(
            _send(
                {"type": "subscribe", "topics": [f"conversation:{conversation}"], "request_id": "s"}
            )
        )
        refused = await receive(ws)
        assert (refused["type"], refused["code"], refused["status"]) == ("error", "not_found", 404)
        assert refused["request_id"] == "s"
        await ws.send(
            _send(
                {
                    "type": "chat.send",
                    "conversation_id": conversation,
                    "message": "Tell me her notes",
                    "request_id": "c",
                }
            )
        )
        refused = await receive(ws)
        assert (refused["code"], refused["status"], refused["request_id"]) == (
            "not_found",
            404,
            "c",
        )
        # A resume from the very beginning replays only Mallory's own (none).
        await ws.send(
            _send({"type": "resume", "last_event_id": "0-0", "topics": ["notifications"]})
        )
        assert (await receive(ws))["type"] == "subscribed"
        await ws.send(_send({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"


# --- bad input ------------------------------------------------------------------------------


async def test_oversized_malformed_and_binary_messages_are_errors_and_the_socket_stays(
    pair: Pair,
) -> None:
    student = await sign_up(pair.a)
    async with open_socket(pair.a, student) as ws:
        await ws.send(_send({"type": "ping", "request_id": "x" * 5000}))
        assert (await receive(ws))["code"] == "message_too_large"
        await ws.send("{not json")
        assert (await receive(ws))["code"] == "invalid_message"
        await ws.send(_send({"type": "launch", "request_id": "r1"}))
        unknown = await receive(ws)
        assert (unknown["code"], unknown["request_id"], unknown["status"]) == (
            "invalid_message",
            "r1",
            422,
        )
        await ws.send(_send({"type": "subscribe", "topics": ["everything"]}))
        assert (await receive(ws))["code"] == "invalid_message"
        await ws.send(b"\x00\x01")
        assert (await receive(ws))["code"] == "invalid_message"
        await ws.send(_send({"type": "ping", "request_id": "still-up"}))
        assert (await receive(ws))["request_id"] == "still-up"


async def test_a_burst_past_the_inbound_rate_is_refused(pair: Pair) -> None:
    student = await sign_up(pair.a)
    async with open_socket(pair.a, student) as ws:
        for n in range(60):
            await ws.send(_send({"type": "ping", "request_id": str(n)}))
        replies = [await receive(ws) for _ in range(60)]
    codes = [r.get("code") for r in replies]
    assert "rate_limited" in codes
    assert [r["type"] for r in replies].count("pong") >= 20


# --- resume ---------------------------------------------------------------------------------


async def test_resume_after_a_dropped_socket_has_no_gap_and_no_duplicate(pair: Pair) -> None:
    student = await sign_up(pair.a)
    user_id = uuid.UUID(student.user_id)

    def note(n: int) -> Event:
        return Event(user_id, "notifications", "notification", {"n": n})

    async with open_socket(pair.a, student, ["notifications"]) as ws:
        await pair.bus_a.publish([note(1), note(2)])
        seen = [await receive(ws), await receive(ws)]
    last_id = seen[-1]["id"]
    # Published while no socket is open, one with another topic in between.
    await pair.bus_a.publish([note(3), Event(user_id, "plans", "plan.updated", {}), note(4)])
    async with open_socket(pair.b, student) as ws:
        await ws.send(
            _send({"type": "resume", "last_event_id": last_id, "topics": ["notifications"]})
        )
        assert (await receive(ws))["type"] == "subscribed"
        missed = [await receive(ws), await receive(ws)]
        await pair.bus_a.publish([note(5)])
        live = await receive(ws)
    assert [m["data"]["n"] for m in [*seen, *missed, live]] == [1, 2, 3, 4, 5]
    ids = [m["id"] for m in [*seen, *missed, live]]
    assert len(set(ids)) == 5


async def test_a_socket_that_stops_reading_is_closed_as_a_slow_consumer(pair: Pair) -> None:
    student = await sign_up(pair.a)
    user_id = uuid.UUID(student.user_id)
    # Far more than the kernel's socket buffers hold, and random: should permessage-deflate be
    # turned on, it would shrink a repeated character to nothing.
    events = [
        Event(
            user_id,
            "notifications",
            "notification",
            {"n": n, "padding": secrets.token_urlsafe(24_000)},
        )
        for n in range(400)
    ]
    # max_queue=1: the client stops reading from its socket as soon as one message waits; and a
    # small receive buffer, so the kernel does not take megabytes on its behalf.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect(("127.0.0.1", pair.a.port))
    sock.setblocking(False)
    async with open_socket(pair.a, student, ["notifications"], max_queue=1, sock=sock) as ws:
        # In small batches the server's reader keeps up with: the client is the slow one.
        for start in range(0, len(events), 10):
            await pair.bus_a.publish(events[start : start + 10])
            await asyncio.sleep(0.01)
        # Longer than the server's send timeout, while nothing is read.
        await asyncio.sleep(SEND_TIMEOUT_SECONDS * 2)
        received: list[int] = []
        code = await _close_code(ws, received)
    assert code == CloseCode.SLOW_CONSUMER
    # What did arrive came in order, with no gap, and stopped well short of everything.
    assert received == list(range(len(received)))
    assert len(received) < len(events)


async def test_resume_from_a_trimmed_id_answers_resync_required(pair: Pair) -> None:
    student = await sign_up(pair.a)
    user_id = uuid.UUID(student.user_id)
    [first] = await pair.bus_a.publish([Event(user_id, "notifications", "notification", {})])
    await pair.bus_a.publish(
        [Event(user_id, "notifications", "notification", {"n": n}) for n in range(HISTORY * 6)]
    )
    async with open_socket(pair.b, student) as ws:
        await ws.send(
            _send({"type": "resume", "last_event_id": first, "topics": ["notifications"]})
        )
        assert (await receive(ws))["type"] == "subscribed"
        resync = await receive(ws)
        assert resync["type"] == "resync_required"
        assert resync["last_event_id"] == first
        # Then live from now.
        [live_id] = await pair.bus_a.publish(
            [Event(user_id, "notifications", "notification", {"live": True})]
        )
        live = await receive(ws)
    assert (live["id"], live["data"]) == (live_id, {"live": True})


# --- chat -----------------------------------------------------------------------------------


async def test_a_chat_turn_over_the_socket_streams_tokens_and_ends_as_rest_shows_it(
    pair: Pair,
) -> None:
    student = await sign_up(pair.a)
    answer = "Spaced repetition beats cramming for long term recall."
    pair.a.app.state.chat_models.with_model("chat", scripted(answer))
    async with open_socket(pair.a, student) as ws:
        await ws.send(
            _send({"type": "chat.send", "message": "How should I revise?", "request_id": "t1"})
        )
        messages = await receive_until(ws, "chat.done")
    started, *tokens, done = messages
    assert started["type"] == "chat.started"
    assert started["data"]["request_id"] == "t1"
    conversation_id = started["data"]["conversation_id"]
    assert {m["type"] for m in tokens} == {"chat.token"}
    assert "".join(m["data"]["text"] for m in tokens) == answer
    assert all(m["topic"] == f"conversation:{conversation_id}" for m in messages)
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    async with httpx.AsyncClient(base_url=pair.b.base, headers=student.headers) as http:
        shown = (await http.get(f"/ai/conversations/{conversation_id}")).json()
    assert done["data"]["conversation_id"] == conversation_id
    assert shown["messages"][-1] == {
        "role": "assistant",
        "content": done["data"]["message"],
        "tool_calls": [],
        "tool_name": None,
    }
    assert done["data"]["message"] == answer


async def test_a_turn_outlives_its_socket_and_resumes_from_the_conversation_topic(
    pair: Pair,
) -> None:
    student = await sign_up(pair.a)
    answer = "One two three four five six seven eight nine ten."
    pair.a.app.state.chat_models.with_model("chat", scripted(answer))
    async with open_socket(pair.a, student) as ws:
        await ws.send(_send({"type": "chat.send", "message": "Count"}))
        started = await receive(ws)
    # Dropped right after the start: the rest is read on the other instance.
    conversation_topic = started["topic"]
    async with open_socket(pair.b, student) as ws:
        await ws.send(
            _send(
                {"type": "resume", "last_event_id": started["id"], "topics": [conversation_topic]}
            )
        )
        assert (await receive(ws))["type"] == "subscribed"
        rest = await receive_until(ws, "chat.done")
    tokens = [m["data"]["text"] for m in rest if m["type"] == "chat.token"]
    assert "".join(tokens) == answer
    assert rest[-1]["data"]["message"] == answer


async def test_a_failed_turn_reports_chat_error(pair: Pair) -> None:
    student = await sign_up(pair.a)
    # A model with nothing left to say fails the turn after it began.
    pair.a.app.state.chat_models.with_model("chat", scripted())
    async with open_socket(pair.a, student) as ws:
        await ws.send(_send({"type": "chat.send", "message": "Hello?", "request_id": "f"}))
        messages = await receive_until(ws, "chat.error")
    error = messages[-1]["data"]
    assert error["request_id"] == "f"
    assert error["code"] == "internal_error"
    assert error["status"] == 500


async def test_the_protocol_schema_is_published(pair: Pair) -> None:
    async with httpx.AsyncClient(base_url=pair.a.base) as http:
        schema = (await http.get("/realtime/schema")).json()
    assert schema["$schema"].endswith("2020-12/schema")
    server_types = schema["$defs"]["ServerMessage"]["discriminator"]["mapping"]
    assert {"chat.token", "chat.done", "progress.updated", "notification", "error"} <= set(
        server_types
    )
    assert "chat.send" in schema["$defs"]["ClientMessage"]["discriminator"]["mapping"]
