"""`studypilot run` as a user runs it: a real process tree on real ports."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import server_tempdir

START_TIMEOUT_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.base = f"http://127.0.0.1:{port}/api/v1"
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(STUDYPILOT_DATA_DIR=str(data_dir), PORT=str(port))
        self.log = (data_dir.parent / f"run-{port}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run"], env=env, stdout=self.log, stderr=self.log
        )

    def wait_healthy(self) -> dict[str, object]:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "studypilot run exited during start-up"
            try:
                response = httpx.get(f"{self.base}/health", timeout=1)
                if response.status_code == 200:
                    return response.json()  # type: ignore[no-any-return]
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the stack did not become healthy in time")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code

    @property
    def postgres_port(self) -> int:
        port: int = json.loads((self.data_dir / "postgres.json").read_text())["port"]
        return port


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = server_tempdir("studypilot-run-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_two_stacks_run_side_by_side_stop_cleanly_and_keep_their_data(workdir: Path) -> None:
    first = Stack(workdir / "a", _free_port())
    second = Stack(workdir / "b", _free_port())
    try:
        assert first.wait_healthy() == {"status": "ok", "components": {"database": "ok"}}
        second.wait_healthy()
        assert first.postgres_port != second.postgres_port

        account = {"email": "run@example.com", "password": "a long password"}
        assert httpx.post(f"{first.base}/auth/register", json=account).status_code == 201
        token = httpx.post(f"{first.base}/auth/login", json=account).json()["access_token"]
        me = httpx.get(f"{first.base}/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == "run@example.com"
        # Separate data: the second stack has never heard of this account.
        assert httpx.post(f"{second.base}/auth/login", json=account).status_code == 401
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0)
    for stack in (first, second):
        assert not _port_open(stack.port)
        assert not _port_open(stack.postgres_port), "the embedded Postgres outlived the stack"

    again = Stack(workdir / "a", first.port)
    try:
        again.wait_healthy()
        assert again.postgres_port == first.postgres_port
        assert httpx.post(f"{again.base}/auth/login", json=account).status_code == 200
    finally:
        assert again.stop() == 0
