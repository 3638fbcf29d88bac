"""`make run`'s worker: a reminder arrives once; a SIGKILLed worker is restarted by the
supervisor and the next reminder still arrives once. Real processes, real ports."""

import os
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port

DELIVERY_TIMEOUT_SECONDS = 60.0


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = server_tempdir("studypilot-run-worker-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _until(probe: Any, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def _worker_pids(stack: Stack) -> set[int]:
    body = httpx.get(f"{stack.base}/health", timeout=5).json()
    # The SDK's default identity is `<pid>@<host>`.
    return {int(worker["identity"].split("@")[0]) for worker in body.get("workers", [])}


def test_reminders_arrive_once_and_a_killed_worker_is_restarted(workdir: Path) -> None:
    stack = Stack(workdir / "data", free_port())
    try:
        stack.wait_healthy()
        account = {"email": "worker@example.com", "password": "a long password"}
        assert httpx.post(f"{stack.base}/auth/register", json=account).status_code == 201
        token = httpx.post(f"{stack.base}/auth/login", json=account).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def remind(message: str) -> str:
            at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
            response = httpx.post(
                f"{stack.base}/reminders",
                headers=headers,
                json={"remind_at": at, "message": message},
            )
            assert response.status_code == 201, response.text
            reminder_id: str = response.json()["id"]
            return reminder_id

        def bodies() -> list[str]:
            page = httpx.get(f"{stack.base}/notifications", headers=headers).json()
            return [item["body"] for item in page["items"]]

        remind("first")
        _until(lambda: bodies() == ["first"])
        [first_pid] = _until(lambda: _worker_pids(stack))

        os.kill(first_pid, signal.SIGKILL)
        remind("second")
        _until(lambda: bodies() == ["second", "first"])
        assert _until(lambda: _worker_pids(stack) - {first_pid}), "no new worker polled"
        time.sleep(2)
        assert bodies() == ["second", "first"]
        assert stack.process.poll() is None, "the stack stopped with its worker"
    finally:
        assert stack.stop() == 0
