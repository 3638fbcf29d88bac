"""`STUDYPILOT_LLM_PROVIDER=local studypilot run`: the stack starts the local model as a
supervised child and every AI task works with no key and no network."""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port

pytestmark = pytest.mark.real_model

# Postgres, migrations, loading the model and the API, on a busy two-core machine.
START_TIMEOUT_SECONDS = 240.0
TURN_SECONDS = 500


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = server_tempdir("studypilot-run-local-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_healthy(stack: Stack) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert stack.process.poll() is None, "studypilot run exited during start-up"
        try:
            if httpx.get(f"{stack.base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("the stack did not become healthy in time")


def test_the_local_provider_answers_chat_with_no_key(workdir: Path) -> None:
    stack = Stack(
        workdir / "data",
        free_port(),
        STUDYPILOT_LLM_PROVIDER="local",
        # Whatever this machine's environment says, no provider and no key.
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        STUDYPILOT_LLM_MODEL="",
        STUDYPILOT_LLM_CHAT_MAX_TOKENS="32",
        STUDYPILOT_CHAT_TURN_DEADLINE_SECONDS=str(TURN_SECONDS),
        STUDYPILOT_LLM_TIMEOUT_SECONDS=str(TURN_SECONDS),
    )
    try:
        wait_healthy(stack)
        account = {"email": "local@example.com", "password": "a long password"}
        assert httpx.post(f"{stack.base}/auth/register", json=account).status_code == 201
        token = httpx.post(f"{stack.base}/auth/login", json=account).json()["access_token"]
        reply = httpx.post(
            f"{stack.base}/ai/chat",
            headers={"Authorization": f"Bearer {token}"},
            json={"message": "Hello! What can you do?"},
            timeout=TURN_SECONDS + 30,
        )
    finally:
        code = stack.stop()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert isinstance(body["message"], str)
    assert body["run_id"]
    assert code == 0
    log = (workdir / "data" / "local-llm.log").read_text()
    assert "SmolLM2-135M-Instruct" in log
