"""Schemathesis fuzzes the published OpenAPI of a running stack: no 500, no undocumented status."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port

# Cross-field rules (end after start, ...) cannot be said in JSON Schema, so "schema-valid data
# is accepted" is not checked; everything about responses is.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
EXAMPLES_PER_OPERATION = 60


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    workdir = server_tempdir("studypilot-fuzz-")
    # Throttling would turn the fuzzer's logins into 429s and hide the answers behind them.
    running = Stack(
        workdir / "data",
        free_port(),
        STUDYPILOT_LOGIN_LIMIT_PER_EMAIL="100000/minute",
        STUDYPILOT_LOGIN_LIMIT_PER_CLIENT="100000/minute",
    )
    try:
        running.wait_healthy()
        yield running
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_fuzzing_the_published_spec_finds_no_server_error(stack: Stack, tmp_path: Path) -> None:
    account = {"email": "fuzz@example.com", "password": "a long password"}
    httpx.post(f"{stack.base}/auth/register", json=account).raise_for_status()
    token = httpx.post(f"{stack.base}/auth/login", json=account).json()["access_token"]
    result = subprocess.run(  # noqa: S603
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"http://127.0.0.1:{stack.port}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261124",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:]
