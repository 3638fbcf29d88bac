"""Start and stop the two HTTP servers (the real app and the baseline), each uvicorn, one worker."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    health_path: str
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; "
                    f"its log:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(self.base_url + self.health_path, timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready in {timeout:.0f} s")

    def wait_idle(self, timeout: float = 90.0, busy_share: float = 0.05) -> float:
        """Wait until the process stops working on its own (the app loads its embedding model
        in the background after start-up); return the seconds waited."""
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        started = time.monotonic()
        previous = _cpu_ticks(self.process.pid)
        while time.monotonic() - started < timeout:
            time.sleep(1.0)
            current = _cpu_ticks(self.process.pid)
            if (current - previous) / ticks_per_second < busy_share:
                break
            previous = current
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def _spawn(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv: our interpreter, our modules
            argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return process, log_path


def _base_env() -> dict[str, str]:
    # Nothing from the caller's StudyPilot/database settings leaks into the servers.
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STUDYPILOT_", "BENCH_")) and k not in {"DATABASE_URL", "PORT"}
    }


def start_app(
    database_url: str, jwt_secret: str, log_dir: Path, workers: int = 1, **extra_env: str
) -> Server:
    """The real API exactly as containers run it: `python -m cli serve` (uvicorn, `workers`
    processes)."""
    port = free_port()
    env = _base_env() | {
        "STUDYPILOT_ENV": "production",
        "STUDYPILOT_JWT_SECRET": jwt_secret,
        "STUDYPILOT_LOG_LEVEL": "WARNING",
        "STUDYPILOT_ACCESS_TOKEN_TTL_SECONDS": "3600",
        "STUDYPILOT_HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "STUDYPILOT_WORKERS": str(workers),
        **extra_env,
    }
    name = "app" if workers == 1 else f"app x{workers}"
    process, log_path = _spawn(
        name.replace(" ", "-"), [sys.executable, "-m", "cli", "serve"], env, log_dir
    )
    return Server(name, process, port, "/api/v1/health", log_path)


def start_baseline(dsn: str, jwt_secret: str, log_dir: Path) -> Server:
    port = free_port()
    env = _base_env() | {"BENCH_DSN": dsn, "BENCH_JWT_SECRET": jwt_secret}
    argv = [
        sys.executable, "-m", "uvicorn", "bench.baseline_app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process, log_path = _spawn("baseline", argv, env, log_dir)
    return Server("baseline", process, port, "/health", log_path)
