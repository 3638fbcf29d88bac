"""The chat part of the growth benchmark: one conversation driven over HTTP to N turns.

Every turn is `POST /api/v1/ai/chat` on the running app (a process of its own, the Postgres
checkpointer, the stub model answering at once: a `list_goals` call, then the answer). Per turn:
the wall time seen by the client, the CPU of the app process and of Postgres (from /proc), and
the WAL the turn made Postgres write (`pg_current_wal_insert_lsn()` before and after: every
insert, update and delete of the turn, in every table, indexes and TOAST included). At a few
turns it also reads what the conversation keeps stored.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import psycopg

from bench.chat_stub import ANSWER, TOOL_NAME
from bench.http_load import CLOCK_TICKS, _children_of, _process_cpu_ticks

MESSAGE = "How am I doing with my goals this week?"
WARM_UP_TURNS = 5  # on a conversation of their own, so turn 1 is not the process's first
BACKENDS_REFRESH_TURNS = 50  # scanning /proc for Postgres's backends is too slow for every turn
# The checkpointer's tables and ours that a turn writes to.
STORED_TABLES = (
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "conversations",
    "agent_runs",
)


@dataclass(frozen=True)
class TurnSample:
    turn: int
    wall_ms: float
    server_cpu_ms: float
    postgres_cpu_ms: float
    wal_bytes: int


@dataclass(frozen=True)
class Stored:
    """What is stored after a turn: the conversation's own rows, and the tables' total size
    (dead rows included until autovacuum reclaims them)."""

    turn: int
    thread_rows: dict[str, int]
    thread_bytes: dict[str, int]
    table_bytes: dict[str, int]


@dataclass
class ChatGrowth:
    turns: int
    samples: list[TurnSample] = field(default_factory=list)
    stored: list[Stored] = field(default_factory=list)


class ProcessCpu:
    """CPU seconds of the app process and of every Postgres process, from /proc."""

    def __init__(self, server_pid: int, postmaster_pid: int) -> None:
        self.server_pid, self.postmaster_pid = server_pid, postmaster_pid
        self._backends: list[int] = []
        self.refresh()

    def refresh(self) -> None:
        self._backends = _children_of(self.postmaster_pid)

    def sample(self) -> tuple[float, float]:
        # Backends that exit meanwhile move into the postmaster's reaped-children time.
        postgres = _process_cpu_ticks(self.postmaster_pid, reaped_children=True) + sum(
            _process_cpu_ticks(pid) for pid in self._backends
        )
        return _process_cpu_ticks(self.server_pid) / CLOCK_TICKS, postgres / CLOCK_TICKS


def wal_position(connection: psycopg.Connection) -> int:
    row = connection.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
    assert row is not None
    return int(row[0])


def stored(connection: psycopg.Connection, conversation_id: str, turn: int) -> Stored:
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        row = connection.execute(
            f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t "  # noqa: S608 - our constants
            "WHERE thread_id = %s",
            (conversation_id,),
        ).fetchone()
        assert row is not None
        rows[table], sizes[table] = int(row[0]), int(row[1])
    row = connection.execute(
        "SELECT count(*), coalesce(sum(pg_column_size(r.*)), 0) FROM agent_runs r "
        "WHERE conversation_id = %s",
        (conversation_id,),
    ).fetchone()
    assert row is not None
    rows["agent_runs"], sizes["agent_runs"] = int(row[0]), int(row[1])
    table_bytes = {
        name: int(size)
        for name, size in connection.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname = ANY(%s) AND relkind = 'r'",
            (list(STORED_TABLES),),
        ).fetchall()
    }
    return Stored(turn, rows, sizes, table_bytes)


class Conversation:
    """Turns of one conversation over HTTP (the first starts it)."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conversation_id: str | None = None

    def turn(self) -> None:
        body = {"message": MESSAGE, "conversation_id": self.conversation_id}
        response = self.client.post("/api/v1/ai/chat", json=body, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"POST /ai/chat answered {response.status_code}: {response.text}")
        reply = response.json()
        calls = [(c["name"], c["ok"]) for c in reply["tool_calls"]]
        if reply["message"] != ANSWER or calls != [(TOOL_NAME, True)]:
            raise RuntimeError(f"POST /ai/chat: unexpected reply {reply}")
        self.conversation_id = reply["conversation_id"]


def run_chat_growth(
    base_url: str,
    token: str,
    dsn: str,
    cpu: ProcessCpu,
    turns: int,
    stored_at: Sequence[int],
    log: Callable[[str], None],
) -> ChatGrowth:
    results = ChatGrowth(turns)
    with (
        httpx.Client(base_url=base_url, timeout=60) as client,
        psycopg.connect(dsn, autocommit=True) as connection,
    ):
        warm = Conversation(client, token)
        for _ in range(WARM_UP_TURNS):
            warm.turn()
        conversation = Conversation(client, token)
        started = time.monotonic()
        for turn in range(1, turns + 1):
            if turn % BACKENDS_REFRESH_TURNS == 1:
                cpu.refresh()
            wal_before = wal_position(connection)
            server_before, postgres_before = cpu.sample()
            wall_before = time.perf_counter()
            conversation.turn()
            wall = time.perf_counter() - wall_before
            server_after, postgres_after = cpu.sample()
            results.samples.append(
                TurnSample(
                    turn=turn,
                    wall_ms=wall * 1000,
                    server_cpu_ms=(server_after - server_before) * 1000,
                    postgres_cpu_ms=(postgres_after - postgres_before) * 1000,
                    wal_bytes=wal_position(connection) - wal_before,
                )
            )
            if turn in stored_at:
                assert conversation.conversation_id is not None
                results.stored.append(stored(connection, conversation.conversation_id, turn))
            if turn % 100 == 0:
                recent = results.samples[-100:]
                log(
                    f"  turn {turn}: last 100 turns {sum(s.wall_ms for s in recent) / 100:.1f} ms, "
                    f"{sum(s.wal_bytes for s in recent) / 100 / 1024:.1f} KiB WAL per turn "
                    f"({time.monotonic() - started:.0f} s so far)"
                )
    return results
