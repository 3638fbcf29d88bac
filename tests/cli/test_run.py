"""`studypilot run` as a user runs it: a real process tree on real ports."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port, port_open


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = server_tempdir("studypilot-run-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _api_workers(stack: Stack) -> list[psutil.Process]:
    """The processes serving the stack's API: children of its `cli serve`."""
    tree = psutil.Process(stack.process.pid).children(recursive=True)
    (serve,) = [p for p in tree if p.cmdline()[-2:] == ["cli", "serve"]]
    # uvicorn spawns its workers through multiprocessing (beside its resource tracker).
    return [p for p in serve.children() if "--multiprocessing-fork" in p.cmdline()]


def test_two_stacks_run_side_by_side_stop_cleanly_and_keep_their_data(workdir: Path) -> None:
    first = Stack(workdir / "a", free_port(), STUDYPILOT_WORKERS="2")
    second = Stack(workdir / "b", free_port(), STUDYPILOT_WORKERS="1")
    try:
        health = first.wait_healthy()
        assert (health["status"], health["components"]) == (
            "ok",
            {"database": "ok", "temporal": "ok"},
        )
        second.wait_healthy()
        assert first.postgres_port != second.postgres_port
        assert first.temporal_port != second.temporal_port
        workers = _api_workers(first)
        assert len(workers) == 2

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
    assert not any(worker.is_running() for worker in workers)
    for stack in (first, second):
        assert not port_open(stack.port)
        assert not port_open(stack.postgres_port), "the embedded Postgres outlived the stack"
        assert not port_open(stack.temporal_port), "the embedded Temporal outlived the stack"

    again = Stack(workdir / "a", first.port)
    try:
        again.wait_healthy()
        assert again.postgres_port == first.postgres_port
        assert again.temporal_port == first.temporal_port
        assert httpx.post(f"{again.base}/auth/login", json=account).status_code == 200
    finally:
        assert again.stop() == 0
