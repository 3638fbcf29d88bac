"""Realtime benchmark: 1,000 authenticated sockets on one API process, events through Redis.

    .venv/bin/python -m bench.realtime

Measures publish-to-receive latency (p50/p99) for single-user events and for broadcasts to
every socket, memory per idle socket (the server's RSS), and the fan-out rate (socket
deliveries/s) one process sustains before p99 passes 100 ms. Writes its section of
bench/RESULTS.md. Client, server, Redis and Postgres share this machine's cores.
"""

import asyncio
import json
import os
import platform
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from bench.postgres import bench_postgres, create_database, plain_url, server_tempdir
from bench.servers import REPO_ROOT, Server, start_app
from core.events import Event
from core.events_redis import RedisEventBus
from domain.realtime.tickets import RedisTicketStore, TicketGrant

REDIS_URL = "redis://127.0.0.1:6379/0"
USERS = 50
SOCKETS_PER_USER = 20
SOCKETS = USERS * SOCKETS_PER_USER
PHASE_SECONDS = 5.0
RATES = [250, 500, 1000, 2000, 4000]  # socket deliveries per second
RESULTS = REPO_ROOT / "bench" / "RESULTS.md"
SECTION_START = "<!-- realtime:start -->"
SECTION_END = "<!-- realtime:end -->"


@dataclass
class Receiver:
    latencies: list[float] = field(default_factory=list)
    received: int = 0

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            message = json.loads(raw)
            sent = message.get("data", {}).get("sent")
            if sent is not None:
                self.latencies.append((time.time() - sent) * 1000)
                self.received += 1


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


async def _seed_users(dsn: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Users with a live sign-in (refresh-token family), written directly: hashing 50
    passwords through the API would only measure Argon2."""
    connection = await asyncpg.connect(dsn)
    users = []
    try:
        for n in range(USERS):
            user_id, family_id = uuid.uuid4(), uuid.uuid4()
            await connection.execute(
                "INSERT INTO users (id, email, password_hash, name) VALUES ($1, $2, 'x', 'B')",
                user_id,
                f"bench-{n}@example.com",
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) "
                "VALUES ($1, $2, $3, 'x', now() + interval '1 day')",
                uuid.uuid4(),
                user_id,
                family_id,
            )
            users.append((user_id, family_id))
    finally:
        await connection.close()
    return users


async def _open(url: str, ticket: str, receiver: Receiver) -> ClientConnection:
    ws = await connect(url, max_queue=None, ping_interval=None)
    await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
    await ws.recv()  # ready
    await ws.send(json.dumps({"type": "subscribe", "topics": ["notifications"]}))
    await ws.recv()  # subscribed
    asyncio.create_task(receiver.read(ws))  # noqa: RUF006 - lives as long as the socket
    return ws


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def _phase(
    bus: RedisEventBus, receiver: Receiver, users: list[uuid.UUID], deliveries_per_s: float
) -> tuple[float, float, float]:
    """Publish one event per user per tick (each reaches that user's sockets)."""
    receiver.latencies.clear()
    receiver.received = 0
    per_tick = len(users) * SOCKETS_PER_USER
    interval = per_tick / deliveries_per_s
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < PHASE_SECONDS:
        tick = time.monotonic()
        await bus.publish(
            [Event(u, "notifications", "notification", {"sent": time.time()}) for u in users]
        )
        sent += per_tick
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
    await asyncio.sleep(1.0)
    elapsed = time.monotonic() - started
    return (
        _percentile(receiver.latencies, 0.5),
        _percentile(receiver.latencies, 0.99),
        receiver.received / elapsed,
    )


async def _single_user(bus: RedisEventBus, receiver: Receiver, user: uuid.UUID) -> list[float]:
    receiver.latencies.clear()
    for _ in range(200):
        await bus.publish([Event(user, "notifications", "notification", {"sent": time.time()})])
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    return [_percentile(receiver.latencies, 0.5), _percentile(receiver.latencies, 0.99)]


async def measure(server: Server, dsn: str) -> dict[str, object]:
    users = await _seed_users(dsn)
    redis = Redis.from_url(REDIS_URL)
    tickets = RedisTicketStore(redis, 60)
    bus = RedisEventBus(REDIS_URL, history=1000, retention_seconds=3600, queue_size=500)
    receiver = Receiver()
    url = f"ws://127.0.0.1:{server.port}/api/v1/realtime/ws"
    await asyncio.sleep(2)
    idle_kib = _rss_kib(server.process.pid)
    sockets = []
    started = time.monotonic()
    for user_id, family_id in users:
        for _ in range(SOCKETS_PER_USER):
            ticket = await tickets.issue(TicketGrant(user_id, family_id))
            sockets.append(await _open(url, ticket, receiver))
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(3)
    loaded_kib = _rss_kib(server.process.pid)
    single = await _single_user(bus, receiver, users[0][0])
    ramp = []
    for rate in RATES:
        p50, p99, delivered = await _phase(bus, receiver, [u for u, _ in users], rate)
        ramp.append({"target": rate, "delivered": delivered, "p50": p50, "p99": p99})
    for ws in sockets:
        await ws.close()
    await bus.aclose()
    await redis.aclose()
    return {
        "idle_kib": idle_kib,
        "loaded_kib": loaded_kib,
        "per_socket_kib": (loaded_kib - idle_kib) / SOCKETS,
        "connect_seconds": connect_seconds,
        "single": single,
        "ramp": ramp,
    }


def _report(results: dict[str, object], runtime: float) -> str:
    ramp = results["ramp"]
    assert isinstance(ramp, list)
    single = results["single"]
    assert isinstance(single, list)
    within = [r["delivered"] for r in ramp if r["p99"] <= 100]
    lines = [
        SECTION_START,
        "## Realtime: 1,000 sockets on one API process (Redis Streams bus)",
        "",
        "Re-run with `.venv/bin/python -m bench.realtime` (rewrites this section only).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (runtime {runtime / 60:.1f} min); "
        f"{platform.platform()}; Python {platform.python_version()}",
        f"- Machine load average during the run: {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores (other work on this shared machine; with a load far above the "
        "core count these figures measure the queue for a CPU, not the server).",
        f"- {SOCKETS:,} sockets ({USERS} users x {SOCKETS_PER_USER}), each authenticated with "
        "a one-use ticket and subscribed to `notifications`, held by one client process "
        "(websockets) on the same 2 cores as the server (`python -m cli serve`, production "
        "settings), Redis and Postgres; absolute latencies include the client's own CPU.",
        f"- Connect + auth + subscribe, sequentially: {results['connect_seconds']:.1f} s "
        "for all sockets.",
        f"- Memory: server RSS {results['idle_kib']:,} KiB idle, {results['loaded_kib']:,} KiB "
        f"with the sockets open: **{results['per_socket_kib']:.1f} KiB per idle socket** "
        "(target <= 50).",
        f"- Single-user events (one user's {SOCKETS_PER_USER} sockets, 100 events/s): "
        f"p50 {single[0]:.1f} ms, **p99 {single[1]:.1f} ms** (target < 10).",
        "",
        "Broadcast ramp: every tick publishes one event per user (one pipelined XADD batch); "
        f"each reaches that user's {SOCKETS_PER_USER} sockets. {PHASE_SECONDS:.0f} s per rate.",
        "",
        "| target deliveries/s | delivered/s | p50 ms | p99 ms |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {r['target']:,} | {r['delivered']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} |"
            for r in ramp
        ),
        "",
        "Highest measured rate with p99 <= 100 ms: "
        + (f"**{max(within):,.0f} deliveries/s**." if within else "none of the rates tried."),
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def _write(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1].lstrip("\n")
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main() -> None:
    started = time.monotonic()
    log_dir = server_tempdir("studypilot-bench-rt-")
    with bench_postgres() as postgres:
        url = asyncio.run(create_database(postgres, "bench_realtime"))
        server = start_app(
            url,
            secrets.token_urlsafe(40),
            log_dir,
            REDIS_URL=REDIS_URL,
            STUDYPILOT_EMBEDDING_WARM_UP="false",
            STUDYPILOT_REALTIME_CONNECTIONS_PER_USER=str(SOCKETS_PER_USER),
        )
        try:
            # Start-up imports are slow on a busy shared machine.
            server.wait_ready(timeout=300)
            results = asyncio.run(measure(server, plain_url(postgres, "bench_realtime")))
        finally:
            server.stop()
    section = _report(results, time.monotonic() - started)
    _write(section)
    print(section)


if __name__ == "__main__":
    main()
